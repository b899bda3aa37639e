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

export type { Hooks, HookEvent, HookEventType, HookReason } from './hooks/hooks.js';
export { NoopHooks, LoggingHooks, composeHooks } from './hooks/builtin.js';
/** Parses `90s`, `30m`, `1h30m`... into ms (null when invalid): handy for wrappers' own settings. */
export { parseDuration } from './util/duration.js';

/**
 * Runs the tshpool CLI with these hooks; argv excludes node and the script;
 * resolves to the exit code. The daemon that a command auto-starts is this same
 * program, so the hooks run in the daemon. For the `daemon` command the promise
 * resolves when the daemon stops.
 */
export function run(argv: readonly string[], hooks?: Hooks): Promise<number> {
  return main(argv, hooks);
}
