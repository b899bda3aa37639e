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

export type EscapeKind = 'rejection' | 'exception' | 'exit';

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
  /**
   * An error escaped a hook (hook and session are those that started it, when
   * known): an unhandled rejection (the host goes on), an uncaught exception or a
   * call of process.exit (the host exits now).
   */
  | { type: 'escaped'; kind: EscapeKind; hook: string | null; session: string | null; error: WireError }
  /** A line for the daemon's log (LoggingHooks). */
  | { type: 'log'; message: string; fields: Record<string, unknown> }
  /** A hook ran synchronously for `ms`, holding the host (not the daemon). */
  | { type: 'blocked'; hook: string; session: string; ms: number };

/** Strings from the host (error messages, stacks, log text) are cut to this: the wrapper's code writes them. */
export const MAX_HOST_TEXT_CHARS = 8192;
const STATUSES: ReadonlySet<string> = new Set(['ok', 'error', 'timeout']);
const ESCAPES: ReadonlySet<string> = new Set(['rejection', 'exception', 'exit']);

const text = (v: unknown): string | null => (typeof v === 'string' ? v.slice(0, MAX_HOST_TEXT_CHARS) : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
function wireError(v: unknown): WireError | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  const message = text(e.message);
  return message === null ? null : { message, stack: text(e.stack) };
}

/**
 * Checks a message from the hook host: wrapper code can call process.send itself,
 * so nothing it sends is trusted. Returns null for anything that is not a FromHost.
 */
export function parseFromHost(raw: unknown): FromHost | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
      return Array.isArray(m.methods) && m.methods.every((x) => typeof x === 'string') ? { type: 'ready', methods: (m.methods as string[]).slice(0, 64) } : null;
    case 'outcome': {
      const seq = num(m.seq), hook = text(m.hook), session = text(m.session), durationMs = num(m.durationMs);
      if (seq === null || hook === null || session === null || durationMs === null || !STATUSES.has(m.status as string)) return null;
      return { type: 'outcome', seq, hook, session, status: m.status as 'ok' | 'error' | 'timeout', error: wireError(m.error), durationMs };
    }
    case 'done':
      return num(m.seq) === null ? null : { type: 'done', seq: m.seq as number };
    case 'decision': {
      const id = num(m.id), durationMs = num(m.durationMs);
      if (id === null || durationMs === null || !STATUSES.has(m.status as string)) return null;
      const d = m.decision as Record<string, unknown> | null;
      const decision = d && typeof d === 'object' ? (typeof d.reject === 'string' ? { reject: d.reject.slice(0, MAX_HOST_TEXT_CHARS) } : { continue: true as const }) : null;
      return { type: 'decision', id, status: m.status as 'ok' | 'error' | 'timeout', decision, error: wireError(m.error), durationMs };
    }
    case 'escaped': {
      const error = wireError(m.error);
      if (!error || !ESCAPES.has(m.kind as string)) return null;
      return { type: 'escaped', kind: m.kind as EscapeKind, hook: text(m.hook), session: text(m.session), error };
    }
    case 'log': {
      const message = text(m.message);
      const fields = typeof m.fields === 'object' && m.fields !== null ? (m.fields as Record<string, unknown>) : {};
      return message === null ? null : { type: 'log', message, fields: JSON.stringify(fields).length <= MAX_HOST_TEXT_CHARS ? fields : { truncated: true } };
    }
    case 'blocked': {
      const hook = text(m.hook), session = text(m.session), ms = num(m.ms);
      return hook === null || session === null || ms === null ? null : { type: 'blocked', hook, session, ms };
    }
    default:
      return null;
  }
}
