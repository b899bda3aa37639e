/**
 * Where tshpool keeps its socket, log and config (XDG base directories, written by
 * hand: there is no good small package and the rules are few).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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

/**
 * Where a daemon keeps everything but its socket (shell-integration scripts,
 * sessions/, its log, its start-up lock): always inside the private runtime
 * directory, never beside a --socket in a directory others may write. A --socket
 * elsewhere gets a subdirectory of its own, named by a hash of its absolute path.
 */
export function stateDir(socketPath: string, env: NodeJS.ProcessEnv = process.env): string {
  if (socketPath === defaultSocketPath(env)) return runtimeDir(env);
  const key = createHash('sha256').update(resolve(socketPath)).digest('hex').slice(0, STATE_KEY_HEX_CHARS);
  return join(runtimeDir(env), `socket-${key}`);
}
/** 48 bits of the socket path's hash: unique among one user's sockets, short enough for socket paths inside it. */
const STATE_KEY_HEX_CHARS = 12;

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
 * Creates `dir` (0700) if needed and checks that it is ours and private: a real
 * directory (lstat: a symlink is refused, not followed), owned by us, with no
 * permission for group or others. Throws PathError saying what to fix.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
  /** True when the socket lives in our own runtime directory. */
  defaultSocket: boolean;
  /** The private directory for everything else (see stateDir). */
  state: string;
  log: string;
  /** True when the log is the user's --log-file (then checked as it is opened: see private-file.ts). */
  explicitLog: boolean;
}

/** --socket, else $TSHPOOL_SOCKET (inside a session: its daemon), else the default. */
export function resolvePaths(opts: { socket?: string | undefined; logFile?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Paths {
  const socket = opts.socket ?? (env[ENV_SOCKET] || defaultSocketPath(env));
  const state = stateDir(socket, env);
  return {
    socket,
    defaultSocket: socket === defaultSocketPath(env),
    state,
    log: opts.logFile ?? join(state, 'tshpool.log'),
    explicitLog: opts.logFile !== undefined,
  };
}

export function socketDir(paths: Paths): string {
  return dirname(paths.socket);
}

/**
 * Prepares the directories of an invocation: the runtime directory and the
 * state directory are created 0700 and verified private (whatever --socket
 * says); a --socket's own directory is only created if missing, since the
 * socket is 0600 and nothing else of ours lives there.
 */
export function ensureDirs(paths: Paths, env: NodeJS.ProcessEnv = process.env): void {
  ensurePrivateDir(runtimeDir(env));
  if (paths.state !== runtimeDir(env)) ensurePrivateDir(paths.state);
  if (!paths.defaultSocket) mkdirSync(socketDir(paths), { recursive: true, mode: 0o700 });
}
