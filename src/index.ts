/**
 * The library surface: run the tshpool CLI with your own hooks.
 *
 * ```js
 * import { run } from 'tshpool';
 * process.exitCode = await run(process.argv.slice(2), { onClientDisconnect: (name) => schedule(name) });
 * ```
 */
import { main } from './cli.js';
import type { Hooks } from './hooks/hooks.js';

export type {
  Decision,
  DecisionRequest,
  EventReason,
  HookContext,
  HookEvent,
  Hooks,
  SessionEvent,
  SessionEventType,
  SessionHandle,
} from './hooks/hooks.js';
export { SESSION_EVENTS } from './protocol/events.js';
export { NoopHooks, LoggingHooks, composeHooks } from './hooks/builtin.js';
/** Parses `90s`, `30m`, `1h30m`... into ms (null when invalid): handy for wrappers' own settings. */
export { parseDuration } from './util/duration.js';

/**
 * Runs the tshpool CLI with these hooks; argv excludes node and the script;
 * resolves to the exit code. The daemon that a command starts is tshpool's own
 * program; it runs this program again (same Node flags) as its hook host, where
 * `run()` serves the hooks instead of running a command. For the `daemon`
 * command the promise resolves when the daemon stops.
 */
export function run(argv: readonly string[], hooks?: Hooks): Promise<number> {
  return main(argv, hooks);
}
