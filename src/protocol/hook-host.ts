/**
 * Messages between the daemon and the wrapper's hook host, over the Node IPC
 * channel the daemon opens when it starts the host (JSON, one message each).
 * The host never blocks the daemon: the daemon sends events and decisions and
 * reads outcomes; a host that dies or stops answering is restarted.
 *
 *   host → daemon   ready (once, after start)
 *   daemon → host   event | decide
 *   host → daemon   outcome (per hook call of an event), done (per event) | decision (per decide)
 *                   | escaped (an error that left a hook: unhandled rejection, uncaught exception)
 *                   | blocked (a hook held the host's event loop)
 */
import type { Decision, DecisionPoint, DecisionRequest, SessionEvent } from './events.js';

/** Set in the hook host's environment: `run()` then serves hooks instead of running the CLI. */
export const ENV_HOOK_HOST = 'TSHPOOL_HOOK_HOST';
/** Set by a wrapper's client in the environment of the daemon it starts: a HookHostSpec as JSON. */
export const ENV_HOOK_HOST_COMMAND = 'TSHPOOL_HOOK_HOST_COMMAND';

/** How a daemon runs a wrapper's hook host. */
export interface HookHostSpec {
  /** node, its flags (the wrapper's execArgv) and the wrapper's script. */
  command: string[];
  /**
   * The hook methods the wrapper defines, known before the host is up: a daemon
   * whose wrapper has no decision hook never waits for a starting host.
   */
  methods: string[];
}

/** Parses ENV_HOOK_HOST_COMMAND's value; null when it is not a HookHostSpec. */
export function parseHookHostSpec(raw: string): HookHostSpec | null {
  try {
    const v = JSON.parse(raw) as Partial<HookHostSpec>;
    const strings = (a: unknown): a is string[] => Array.isArray(a) && a.every((x) => typeof x === 'string');
    if (strings(v.command) && v.command.length >= 2 && strings(v.methods)) return { command: v.command, methods: v.methods };
  } catch {
    // Not JSON.
  }
  return null;
}

/** An error as it crosses the channel. */
export interface WireError {
  message: string;
  stack: string | null;
}

export type ToHost =
  /** Run the hooks for this event, each under `timeoutMs`. Reply: one `outcome` per hook method called. */
  | { type: 'event'; event: SessionEvent; timeoutMs: number }
  /** Ask the decision hook for `point`. Reply: `decision` with the same id. */
  | { type: 'decide'; id: number; point: DecisionPoint; request: DecisionRequest; timeoutMs: number };

export type FromHost =
  /** The host is serving; `methods` are the hook methods the wrapper defines. */
  | { type: 'ready'; methods: string[] }
  /** One hook call for event `seq` ended. */
  | {
      type: 'outcome';
      seq: number;
      hook: string;
      session: string;
      status: 'ok' | 'error' | 'timeout';
      error: WireError | null;
      durationMs: number;
    }
  /** Every hook call for event `seq` ended (sent after its outcomes, also when no method applied). */
  | { type: 'done'; seq: number }
  /** The answer to `decide` `id`: null = no such hook (go on). */
  | { type: 'decision'; id: number; status: 'ok' | 'error' | 'timeout'; decision: Decision | null; error: WireError | null; durationMs: number }
  /** An error escaped a hook (hook and session are those that created it, when known). `fatal`: the host exits now. */
  | { type: 'escaped'; hook: string | null; session: string | null; error: WireError; fatal: boolean }
  /** A line for the daemon's log (LoggingHooks). */
  | { type: 'log'; message: string; fields: Record<string, unknown> }
  /** A hook ran synchronously for `ms`, holding the host (not the daemon). */
  | { type: 'blocked'; hook: string; session: string; ms: number };
