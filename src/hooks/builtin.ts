/**
 * Ready-made hooks for wrapper programs.
 */
import type { HookEvent, HookName, Hooks } from './hooks.js';

/** Does nothing; a base to extend or a placeholder. */
export class NoopHooks implements Hooks {}

/** Where LoggingHooks writes: the daemon's log once the daemon runs (set by the daemon). */
let daemonLogSink: ((msg: string, fields: Record<string, unknown>) => void) | null = null;

/** @internal The daemon points LoggingHooks at its log. */
export function setHookLogSink(sink: typeof daemonLogSink): void {
  daemonLogSink = sink;
}

/** Writes every event to the daemon's log (level info). */
export class LoggingHooks implements Hooks {
  onEvent(event: HookEvent): void {
    daemonLogSink?.(`hook event ${event.type}`, { ...event });
  }
}

const HOOK_NAMES: readonly (HookName | 'onEvent')[] = ['onNewSession', 'onReattach', 'onBusy', 'onClientDisconnect', 'onShellDisconnect', 'onEvent'];

/**
 * Combines hooks: each method calls every part's method in the order given. A
 * part that throws or rejects does not stop the others; the combined call then
 * rejects with all their errors (so the daemon logs them). The parts run
 * concurrently, so one slow part does not delay the next.
 */
export function composeHooks(...parts: Hooks[]): Hooks {
  const composed: Hooks = {};
  for (const name of HOOK_NAMES) {
    const fns = parts.filter((p) => typeof p[name] === 'function');
    if (fns.length === 0) continue;
    (composed as Record<string, unknown>)[name] = async (...args: unknown[]): Promise<void> => {
      const results = fns.map((p) => {
        try {
          return Promise.resolve((p[name] as (...a: unknown[]) => void | Promise<void>).apply(p, args));
        } catch (err) {
          return Promise.reject(err);
        }
      });
      const failures = (await Promise.allSettled(results)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failures.length === 1) throw failures[0]!.reason;
      if (failures.length > 1) throw new AggregateError(failures.map((f) => f.reason), `${failures.length} composed hooks failed`);
    };
  }
  return composed;
}
