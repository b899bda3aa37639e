/**
 * Where tshpool keeps its socket, log and config (XDG base directories, written by
 * hand: there is no good small package and the rules are few).
 */
import { mkdirSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ENV_SOCKET, MAX_SOCKET_PATH_BYTES } from './consts.js';

export class PathError extends Error {
  override name = 'PathError';
}

/** The private directory that holds the socket: $XDG_RUNTIME_DIR/tshpool or ${TMPDIR:-/tmp}/tshpool-<uid>. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'tshpool');
  return join(env.TMPDIR || '/tmp', `tshpool-${process.getuid!()}`);
}

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(runtimeDir(env), 'tshpool.socket');
}

/** The daemon's log lives beside its socket: tshpool.socket → tshpool.log. */
export function defaultLogPath(socketPath: string): string {
  return socketPath.endsWith('.socket') ? `${socketPath.slice(0, -'.socket'.length)}.log` : `${socketPath}.log`;
}

/**
 * The session holder (tshpool-holder) of the daemon on `socketPath` lives beside
 * it: tshpool.socket → tshpool.holder.socket (and .holder.log), so two daemons on
 * different sockets never share a holder.
 */
export function holderSocketPath(socketPath: string): string {
  return `${socketPath.endsWith('.socket') ? socketPath.slice(0, -'.socket'.length) : socketPath}.holder.socket`;
}

export function holderLogPath(socketPath: string): string {
  return `${socketPath.endsWith('.socket') ? socketPath.slice(0, -'.socket'.length) : socketPath}.holder.log`;
}

export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'tshpool', 'config.toml');
}

export const SYSTEM_CONFIG_PATH = '/etc/tshpool/config.toml';

/** Refuses socket paths that Node would silently truncate. */
export function checkSocketPathLength(socketPath: string): void {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new PathError(
      `socket path is ${bytes} bytes, longer than the Unix socket limit of ${MAX_SOCKET_PATH_BYTES}: ${socketPath}\n` +
        'Use a shorter --socket path, or set XDG_RUNTIME_DIR / TMPDIR to a shorter directory.',
    );
  }
}

/**
 * Creates the socket's directory (0700) if needed and checks that it is ours and
 * private. With an explicit --socket in a shared directory the check is skipped
 * for that directory: the socket itself is still 0600.
 */
export function ensurePrivateDir(dir: string, strict: boolean): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!strict) return;
  const st = lstatSync(dir);
  const uid = process.getuid!();
  if (!st.isDirectory()) throw new PathError(`${dir} is not a directory (a symlink or file is in the way); remove it and try again`);
  if (st.uid !== uid) throw new PathError(`${dir} belongs to uid ${st.uid}, not to you (uid ${uid}); refusing to use it. Remove it or set XDG_RUNTIME_DIR.`);
  if ((st.mode & 0o077) !== 0) {
    throw new PathError(
      `${dir} is accessible by other users (mode ${(st.mode & 0o777).toString(8)}); refusing to use it. Fix it with: chmod 700 ${dir}`,
    );
  }
}

/** Resolved locations for one invocation. */
export interface Paths {
  socket: string;
  /** True when the socket lives in our own runtime directory (which we then check strictly). */
  defaultSocket: boolean;
  log: string;
}

/** --socket, else $TSHPOOL_SOCKET (inside a session: its daemon), else the default. */
export function resolvePaths(opts: { socket?: string | undefined; logFile?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Paths {
  const socket = opts.socket ?? (env[ENV_SOCKET] || defaultSocketPath(env));
  return { socket, defaultSocket: socket === defaultSocketPath(env), log: opts.logFile ?? defaultLogPath(socket) };
}

export function socketDir(paths: Paths): string {
  return dirname(paths.socket);
}
