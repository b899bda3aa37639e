/**
 * Ready-made hooks for wrapper programs.
 */
import { HOOK_METHODS, toDecisionValue, type HookContext, type HookName, type Hooks, type SessionEvent } from './hooks.js';
import { DECISIONS, type Decision } from '../protocol/events.js';

/** Does nothing; a base to extend or a placeholder. */
export class NoopHooks implements Hooks {}

/** Where LoggingHooks writes: the daemon's log, through the hook host's channel (set by the hook host). */
let daemonLogSink: ((msg: string, fields: Record<string, unknown>) => void) | null = null;

/** @internal The hook host points LoggingHooks at the daemon's log. */
export function setHookLogSink(sink: typeof daemonLogSink): void {
  daemonLogSink = sink;
}

/** Writes every event to the daemon's log (level info). */
export class LoggingHooks implements Hooks {
  onEvent(event: SessionEvent): void {
    daemonLogSink?.(`hook event ${event.type}`, { ...event });
  }
}

const DECISION_METHODS: ReadonlySet<string> = new Set(Object.values(DECISIONS).map((d) => d.hook));

/** Wraps a part's failure so the combined error says which part failed. */
function partError(index: number, err: unknown): Error {
  const inner = err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
  const e = new Error(`part ${index + 1}: ${inner.message}`, { cause: err });
  e.stack = `Error: ${e.message}\n${inner.stack?.split('\n').slice(1).join('\n') ?? ''}`;
  return e;
}

function invoke(part: Hooks, name: HookName, args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve((part[name] as (...a: unknown[]) => unknown).apply(part, args));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Event hooks: every part runs, concurrently; all their errors are kept. */
function composeEvent(parts: Hooks[], name: HookName): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const results = await Promise.allSettled(parts.map((p) => invoke(p, name, args)));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [partError(i, r.reason)] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} composed hooks failed`);
  };
}

/**
 * Decision hooks: the parts are asked in order and the first refusal wins (the
 * rest are not asked). A part that fails is an error of the whole decision
 * (then decision_failure applies), with that part's error.
 */
function composeDecision(parts: Hooks[], name: HookName): (...args: unknown[]) => Promise<Decision> {
  return async (...args) => {
    for (const [i, part] of parts.entries()) {
      let decision: Decision;
      try {
        decision = toDecisionValue(await invoke(part, name, args));
      } catch (err) {
        throw partError(i, err);
      }
      if ('reject' in decision) return decision;
      if ((args[2] as HookContext | undefined)?.signal.aborted) break;
    }
    return { continue: true };
  };
}

/**
 * Combines hooks: each event method calls every part's method (concurrently, so
 * one slow part does not delay the next); a part that throws or rejects does not
 * stop the others, and the combined call then rejects with every part's error.
 * Decision methods ask the parts in order and stop at the first refusal.
 */
export function composeHooks(...parts: Hooks[]): Hooks {
  const composed: Hooks = {};
  for (const name of HOOK_METHODS) {
    const having = parts.filter((p) => typeof p[name] === 'function');
    if (having.length === 0) continue;
    (composed as Record<string, unknown>)[name] = DECISION_METHODS.has(name) ? composeDecision(having, name) : composeEvent(having, name);
  }
  return composed;
}
