/**
 * `tshpool attach NAME` without the full command line, when a daemon already
 * runs: the common reattach, whose start-up is what the user waits for. Loads no
 * command-line parser and none of the other commands' modules (see quick-list.ts
 * for `list`).
 *
 * Handles only `attach NAME` with no option and no global option, outside a
 * session (the full CLI refuses attaching to the session you are in), with a
 * config that loads without error or warning. Anything else, and any failure
 * before the request is sent, returns null: the full CLI then runs the command
 * with its usual checks, messages and daemon auto-start. Once the request is sent
 * the outcome is this command's own (a busy session, say), reported as the full
 * CLI reports it.
 */
import { loadConfig } from '../config/load.js';
import { ENV_SESSION_NAME } from '../consts.js';
import { SYSTEM_CONFIG_PATH, userConfigPath } from '../paths.js';
import { sessionNameProblem } from '../protocol/names.js';
import { connectRunningQuietly } from './connect.js';
import { reportFailure } from './errors.js';

export async function quickAttach(argv: readonly string[]): Promise<number | null> {
  const [command, name, ...rest] = argv;
  if (command !== 'attach' || name === undefined || name.startsWith('-') || rest.length > 0) return null;
  if (sessionNameProblem(name) !== null || process.env[ENV_SESSION_NAME] !== undefined) return null;
  let config;
  try {
    const loaded = loadConfig({ explicitFile: null, systemFile: SYSTEM_CONFIG_PATH, userFile: userConfigPath() });
    if (loaded.warnings.length > 0) return null;
    config = loaded.config;
  } catch {
    return null;
  }
  const conn = await connectRunningQuietly();
  if (!conn) return null;
  try {
    const { attach } = await import('./attach.js');
    return await attach(conn, { name, force: false, background: false, ttlMs: null, cmd: null, dir: null, hooks: {}, config });
  } catch (err) {
    return reportFailure(err);
  } finally {
    conn.close();
  }
}
