/**
 * `tshpool list` without the full command line. Prompts, status bars and scripts
 * run it often, and its start-up is its latency: commander, the config loader
 * and the other commands' modules were ~25 ms of a ~95 ms `list` here.
 *
 * Handles only `list` / `ls` with --json or --names and no global option, and only
 * when a daemon already runs. Anything else, and any failure before output,
 * returns null: the full CLI then runs the command with its usual checks,
 * messages and daemon auto-start.
 */
import { list } from './commands.js';
import { connectRunningQuietly } from './connect.js';

const FORMAT_FLAGS = new Set(['--json', '--names']);

export async function quickList(argv: readonly string[]): Promise<number | null> {
  const [command, ...flags] = argv;
  if ((command !== 'list' && command !== 'ls') || !flags.every((f) => FORMAT_FLAGS.has(f))) return null;
  const format = flags.includes('--json') ? 'json' : flags.includes('--names') ? 'names' : 'table';
  const conn = await connectRunningQuietly();
  if (!conn) return null;
  try {
    return await list(conn, format);
  } catch {
    return null;
  } finally {
    conn.close();
  }
}
