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

/** Runs the tshpool CLI with these hooks; argv excludes node and the script; resolves to the exit code. */
export function run(argv: readonly string[], hooks?: Hooks): Promise<number> {
  return main(argv, hooks);
}
