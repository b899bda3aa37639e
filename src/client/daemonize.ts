/**
 * Starting the daemon in the background. The daemon is the very script the user
 * ran (process.execPath + process.argv[1]) with the `daemon` command, so a
 * wrapper program's hooks live in the daemon it starts.
 */
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_POLL_MAX_MS, DAEMON_POLL_START_MS, DAEMON_START_TIMEOUT_MS } from '../consts.js';
import type { Paths } from '../paths.js';
import { openLogFileSync, UnsafeFileError } from '../private-file.js';
import { UserError } from './errors.js';

/** How to re-run ourselves as a daemon. */
export interface DaemonLaunch {
  /** The script the user ran. */
  script: string;
  /** Global options to pass on (--socket, --config-file, --log-file, -v). */
  globalArgs: string[];
}

export async function startDaemon(paths: Paths, launch: DaemonLaunch, tryConnect: (path: string) => Promise<Socket>): Promise<Socket> {
  // The daemon writes its own leveled log; this catches what escapes it (crashes, Node warnings).
  let out: number | 'ignore' = 'ignore';
  try {
    out = openLogFileSync(paths.log);
  } catch (err) {
    // An unsafe --log-file is refused; an unwritable one must not prevent the daemon from starting.
    if (err instanceof UnsafeFileError) throw new UserError(err.message);
  }
  const child = spawn(process.execPath, [launch.script, ...launch.globalArgs, 'daemon'], {
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  });
  if (typeof out === 'number') closeSync(out);
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  child.once('error', () => (exited = 1));
  child.unref();

  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  let delay = DAEMON_POLL_START_MS;
  let lastError: Error | null = null;
  while (Date.now() < deadline) {
    try {
      return await tryConnect(paths.socket);
    } catch (err) {
      lastError = err as Error;
    }
    // A daemon that lost a start-up race exits at once while the winner comes up: keep polling.
    await sleep(delay);
    delay = Math.min(delay * 2, DAEMON_POLL_MAX_MS);
  }
  throw new UserError(
    `started the daemon, but its socket never came up at ${paths.socket} within ${DAEMON_START_TIMEOUT_MS / 1000} s` +
      `${exited !== null ? ` (the daemon exited with status ${exited})` : ''}` +
      `${lastError ? `: ${lastError.message}` : ''}. See the daemon log: ${paths.log}`,
  );
}
