/**
 * The Hooks interface wrapper programs implement, and runHook: the one way a
 * hook call is made (a throw, a rejection and a timeout all become an outcome;
 * nothing propagates). Hooks run in the wrapper's hook host process, never in the
 * daemon (see docs/architecture.md); the daemon logs and counts each outcome.
 */
import { SESSION_EVENTS, type Decision, type DecisionRequest, type SessionEvent } from '../protocol/events.js';
import type { SessionInfo } from '../protocol/messages.js';
import type { WireError } from '../protocol/hook-host.js';

export type { Decision, DecisionRequest, EventReason, SessionEvent, SessionEventType } from '../protocol/events.js';

/** @deprecated since 0.2: the event type is SessionEvent (hooks, hook commands and `tshpool events` share it). */
export type HookEvent = SessionEvent;

/** A hook's handle on its session, through the daemon's socket (no CLI process is spawned). */
export interface SessionHandle {
  readonly name: string;
  /** The session's screen as text (and up to `scrollback` lines above it). */
  capture(options?: { scrollback?: number; ansi?: boolean }): Promise<string>;
  /** Types `text` into the session, as `tshpool send` does. */
  send(text: string): Promise<void>;
  /** Every session of the daemon, as `tshpool list --json` shows them. */
  list(): Promise<SessionInfo[]>;
}

/** Passed to every hook after its usual arguments. */
export interface HookContext {
  /** Aborted when the hook's time is up ([hooks] timeout, or decision_timeout for decision hooks). */
  signal: AbortSignal;
  session: SessionHandle;
}

export type EventHook = (sessionName: string, event: SessionEvent, context: HookContext) => void | Promise<void>;
type DecisionHook = (
  sessionName: string,
  request: DecisionRequest,
  context: HookContext,
) => Decision | void | undefined | Promise<Decision | void | undefined>;

export interface Hooks {
  /** session.created: a fresh session's shell was spawned, just before the attaching client (or `attach -b`) gets its reply. */
  onNewSession?: EventHook;
  /** session.attached to an existing session (also after `-f` displaced another client). */
  onReattach?: EventHook;
  /** session.busy: a client was refused because another client is attached (and it did not use -f). */
  onBusy?: EventHook;
  /**
   * session.detached: the attached client went away (event.reason: detach, hangup,
   * force, or kill / ttl / exit / shutdown when the session ended under it).
   */
  onClientDisconnect?: EventHook;
  /** session.removed: the session ended (event.reason: exit, kill, ttl, shutdown). */
  onShellDisconnect?: EventHook;
  /** session.viewer_joined: `tshpool view` started watching. */
  onViewerJoin?: EventHook;
  /** session.viewer_left: a viewer stopped watching. */
  onViewerLeave?: EventHook;
  /** Every event, beside the specific method (or onHook; they run concurrently): one place for logging middleware. */
  onEvent?(event: SessionEvent, context: HookContext): void | Promise<void>;
  /**
   * Single dispatch: when present it is called for every event INSTEAD of the
   * specific methods (onNewSession...); onEvent still runs after it.
   */
  onHook?(event: SessionEvent, context: HookContext): void | Promise<void>;
  /**
   * Decides whether a session may be created. Return `{ reject: 'reason' }` to
   * refuse (the client exits 4 with the reason), nothing or `{ continue: true }` to go on.
   * Awaited on the user's path under [hooks] decision_timeout.
   */
  onBeforeCreate?: DecisionHook;
  /** Decides whether a client may attach to (or, request.kind = view, watch) an existing session. */
  onBeforeAttach?: DecisionHook;
}

export type HookName = keyof Hooks;

/** The hook methods a wrapper may define (the hook host reports which it has). */
export const HOOK_METHODS: readonly HookName[] = [
  'onNewSession',
  'onReattach',
  'onBusy',
  'onClientDisconnect',
  'onShellDisconnect',
  'onViewerJoin',
  'onViewerLeave',
  'onEvent',
  'onHook',
  'onBeforeCreate',
  'onBeforeAttach',
];

/** A hook's failure as it travels to the daemon's log. */
export type HookError = WireError;

/** The hook methods `hooks` defines (as functions). */
export function definedHooks(hooks: Hooks): HookName[] {
  return HOOK_METHODS.filter((m) => typeof hooks[m] === 'function');
}

export type HookOutcome<T = unknown> =
  | { status: 'ok'; value: T; durationMs: number }
  | { status: 'error'; error: HookError; durationMs: number }
  | { status: 'timeout'; durationMs: number };

/** Any thrown value as a HookError (a non-Error rejection is shown as JSON, not [object Object]). */
export function toHookError(err: unknown): HookError {
  if (err instanceof AggregateError) {
    const parts = err.errors.map((e, i) => `  [${i + 1}] ${toHookError(e).message}`).join('\n');
    return { message: `${err.message}:\n${parts}`, stack: err.stack ?? null };
  }
  if (err instanceof Error) return { message: err.message || err.name, stack: err.stack ?? null };
  let text: string;
  try {
    text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return { message: `non-Error value thrown: ${text}`, stack: null };
}

/**
 * Makes one hook call: `call` gets a signal aborted at `timeoutMs`. Resolves to
 * its outcome; never rejects. A promise still pending at the timeout is left
 * to settle on its own (its late rejection is swallowed).
 */
export async function runHook<T>(call: (signal: AbortSignal) => T | Promise<T>, timeoutMs: number): Promise<HookOutcome<Awaited<T>>> {
  const started = performance.now();
  const took = (): number => Math.round((performance.now() - started) * 100) / 100;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = call(abort.signal);
    if (!(result instanceof Promise) && !(result && typeof (result as { then?: unknown }).then === 'function')) {
      return { status: 'ok', value: result as Awaited<T>, durationMs: took() };
    }
    const timedOut = Symbol('timeout');
    const outcome = await Promise.race([
      result as Promise<Awaited<T>>,
      new Promise<typeof timedOut>((resolve) => {
        timer = setTimeout(() => resolve(timedOut), timeoutMs);
      }),
    ]);
    if (outcome === timedOut) {
      abort.abort();
      return { status: 'timeout', durationMs: took() };
    }
    return { status: 'ok', value: outcome, durationMs: took() };
  } catch (err) {
    return { status: 'error', error: toHookError(err), durationMs: took() };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The methods an event calls, in order, given the methods a wrapper defines:
 * onHook replaces the specific method; onEvent runs for every event. An attach
 * that created its session calls no onReattach (onNewSession already ran).
 */
export function hookMethodsFor(defined: ReadonlySet<string>, event: SessionEvent): HookName[] {
  const out: HookName[] = [];
  if (defined.has('onHook')) out.push('onHook');
  else if (!(event.type === 'session.attached' && event.created)) {
    const specific = SESSION_EVENTS[event.type].hook;
    if (defined.has(specific)) out.push(specific);
  }
  if (defined.has('onEvent')) out.push('onEvent');
  return out;
}

/** A decision hook's return value as a Decision, or an error saying what was expected. */
export function toDecisionValue(value: unknown): Decision {
  if (value === undefined || value === null) return { continue: true };
  if (typeof value === 'object') {
    const v = value as { reject?: unknown; continue?: unknown };
    if (typeof v.reject === 'string' && v.reject.trim() !== '') return { reject: v.reject };
    if (v.continue === true && v.reject === undefined) return { continue: true };
  }
  throw new Error(`a decision hook returned ${JSON.stringify(value)}; return { reject: 'reason' }, { continue: true } or nothing`);
}
