/**
 * Starting tshpool-holder: detached (a session of its own, no terminal), so it
 * outlives the daemon that starts it. It prints "ready PID" once it accepts
 * connections, or exits 3 when another holder serves the socket already (two
 * daemons starting at once: the loser simply connects).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** From spawn to "ready": the holder binds a socket and nothing else, a few ms unless the machine is swamped. */
export const HOLDER_START_TIMEOUT_MS = 5000;
/** native/holder.c's EXIT_ALREADY_RUNNING. */
const EXIT_ALREADY_RUNNING = 3;
const READY_LINE = /^ready (\d+)\n/;

/** The holder built by `npm install` (node-gyp): build/Release/tshpool-holder of this package. */
export function defaultHolderExecutable(): string {
  return fileURLToPath(new URL('../../../build/Release/tshpool-holder', import.meta.url));
}

/** The holder cannot be used; the message starts with "holder unavailable:" and says why. */
export class HolderUnavailableError extends Error {
  override name = 'HolderUnavailableError';
  constructor(why: string, options?: { cause?: unknown }) {
    super(`holder unavailable: ${why}`, options);
  }
}

export interface HolderLaunchOptions {
  executable: string;
  socketPath: string;
  logPath?: string | undefined;
  /** The holder's idle exit (no session, no daemon); its default when undefined. */
  idleExitMs?: number | undefined;
}

/** Starts a holder; resolves with its pid, or null when another one serves the socket already. */
export function launchHolder(opts: HolderLaunchOptions): Promise<number | null> {
  const args = ['--socket', opts.socketPath];
  if (opts.logPath) args.push('--log', opts.logPath);
  if (opts.idleExitMs !== undefined) args.push('--idle-exit-ms', String(opts.idleExitMs));
  return new Promise((resolve, reject) => {
    const child = spawn(opts.executable, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      outcome();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() => reject(new HolderUnavailableError(`${opts.executable} did not get ready within ${HOLDER_START_TIMEOUT_MS} ms`)));
    }, HOLDER_START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = READY_LINE.exec(stdout);
      if (m) settle(() => resolve(Number(m[1])));
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (err) => settle(() => reject(new HolderUnavailableError(`cannot run ${opts.executable}: ${err.message}`, { cause: err }))));
    child.on('exit', (code, signal) => {
      if (code === EXIT_ALREADY_RUNNING) return settle(() => resolve(null));
      const why = stderr.trim() || (signal ? `killed by ${signal}` : `exit status ${code}`);
      settle(() => reject(new HolderUnavailableError(`${opts.executable} failed to start: ${why}`)));
    });
  });
}
