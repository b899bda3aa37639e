/**
 * Starting the daemon in the background. The daemon is always tshpool's own
 * program (bin/tshpool `daemon`), never a wrapper's: a wrapper's client passes
 * the command that runs the wrapper again (its Node flags included) as the
 * daemon's hook host, so the wrapper's code runs beside the daemon, not in it.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_POLL_MAX_MS, DAEMON_POLL_START_MS, DAEMON_START_TIMEOUT_MS } from '../consts.js';
import { fileURLToPath } from 'node:url';
import type { Paths } from '../paths.js';
import { ENV_HOOK_HOST, ENV_HOOK_HOST_COMMAND, type HookHostSpec } from '../protocol/hook-host.js';
import { openLogFileSync, UnsafeFileError } from '../private-file.js';
import { UserError } from './errors.js';

/** How to start a daemon. */
export interface DaemonLaunch {
  /** Global options to pass on (--socket, --config-file, --log-file, -v). */
  globalArgs: string[];
  /** How the daemon runs the wrapper's hook host; null for plain tshpool. */
  hookHost: HookHostSpec | null;
}

/** tshpool's own launcher, whoever imported us. */
export const TSHPOOL_BIN = fileURLToPath(new URL('../../bin/tshpool', import.meta.url));

/** The daemon's command line and environment for `launch`. */
export function daemonCommand(launch: DaemonLaunch): { args: string[]; env: NodeJS.ProcessEnv } {
  const env = { ...process.env };
  delete env[ENV_HOOK_HOST];
  if (launch.hookHost) env[ENV_HOOK_HOST_COMMAND] = JSON.stringify(launch.hookHost);
  else delete env[ENV_HOOK_HOST_COMMAND];
  return { args: [TSHPOOL_BIN, ...launch.globalArgs, 'daemon'], env };
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
  const { args, env } = daemonCommand(launch);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env });
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

/** Signals a foreground daemon started for a wrapper gets passed on. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * `daemon` run by a wrapper: the daemon runs as tshpool's own program in a child
 * (this process only waits for it and passes signals on), so the process that
 * holds the sessions never has the wrapper's code loaded. A listening socket
 * that systemd passed us (fd 3) is passed on. Resolves to the daemon's exit code.
 */
export function runDaemonForWrapper(launch: DaemonLaunch): Promise<number> {
  const { args, env } = daemonCommand(launch);
  const activated = process.env.LISTEN_FDS === '1' && process.env.LISTEN_PID === String(process.pid);
  if (activated) env.TSHPOOL_LISTEN_FD = '3';
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  const child = spawn(process.execPath, args, { stdio: activated ? ['inherit', 'inherit', 'inherit', 3] : 'inherit', env });
  const forward = (signal: NodeJS.Signals) => (): void => void child.kill(signal);
  const handlers = FORWARDED_SIGNALS.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`tshpool: cannot start the daemon: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1));
    });
  });
}
