/**
 * The daemon's composition root: claims the socket (under a start-up lock so two
 * racing starts end with one daemon), builds the session table, hooks and server,
 * and tears everything down on SIGTERM/SIGINT.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { closeSync } from 'node:fs';
import { chmod, lstat, readdir, rm, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import lockfile from 'proper-lockfile';
import { ENV_SOCKET, KILL_GRACE_MS, STARTUP_LOCK_STALE_MS } from '../consts.js';
import type { ConfigSources, LoadedConfig } from '../config/load.js';
import { checkCommandLine, HOOK_COMMAND_NAMES, type Config } from '../config/schema.js';
import { watchConfig } from '../config/watch.js';
import { ENV_HOOK_HOST_COMMAND, parseHookHostSpec, type HookHostSpec } from '../protocol/hook-host.js';
import type { DaemonStatus } from '../protocol/messages.js';
import { checkSocketPathLength, ensureDirs, type Paths } from '../paths.js';
import { VERSION } from '../version.js';
import { openLogFileSync, UnsafeFileError } from '../private-file.js';
import { join } from 'node:path';
import { DetachedTurns } from './detached-turns.js';
import { EventHub } from './events.js';
import { HookHost } from './hook-host.js';
import { LifecycleDispatcher } from './lifecycle.js';
import { writeShellIntegration } from './shell-integration.js';
import { Logger, type LogLevel } from './log.js';
import { serve } from './server.js';
import type { Session, SessionEventFields } from './session.js';
import { SessionTable } from './session-table.js';

/** On shutdown, how long the sessions' last hooks and hook commands may still run. */
const SHUTDOWN_HOOK_GRACE_MS = 3000;
/** On shutdown, how long to wait for the sessions' shells to end (SIGKILL comes at KILL_GRACE_MS); generous for a loaded machine. */
const SHUTDOWN_SESSIONS_WAIT_MS = KILL_GRACE_MS + 2500;

export interface DaemonOptions {
  paths: Paths;
  /** The configuration read at start-up, and where it came from (for hot reload). */
  loaded: LoadedConfig;
  configSources: ConfigSources;
  logLevel: LogLevel;
}

/**
 * The wrapper's hook host command, from the environment its client started us
 * with (ENV_HOOK_HOST_COMMAND); null for plain tshpool. Removed from our
 * environment so that no session inherits it.
 */
function hookHostSpec(log: Logger): HookHostSpec | null {
  const raw = process.env[ENV_HOOK_HOST_COMMAND];
  delete process.env[ENV_HOOK_HOST_COMMAND];
  if (!raw) return null;
  const spec = parseHookHostSpec(raw);
  if (!spec) log.error(`ignoring ${ENV_HOOK_HOST_COMMAND}: not {"command": [node, ..., script], "methods": [...]}`, { value: raw.slice(0, 200) });
  return spec;
}

/**
 * The last line of defence against the daemon's own bugs: an error that escapes
 * every handler is logged with its stack and counted, and the daemon keeps its
 * sessions rather than taking every shell down with it.
 */
function guardProcess(log: Logger, counter: { internalErrors: number }): () => void {
  const onError = (kind: string) => (err: unknown): void => {
    counter.internalErrors++;
    log.error(`internal error (${kind}); the daemon keeps running`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  };
  const uncaught = onError('uncaught exception');
  const unhandled = onError('unhandled rejection');
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', unhandled);
  return () => {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', unhandled);
  };
}

export class DaemonStartError extends Error {
  override name = 'DaemonStartError';
}

/**
 * Is something accepting connections on `socket`? 'stale' = something nobody
 * listens on: a dead daemon's socket, or a dangling symlink (connect says ENOENT,
 * yet listen would fail with EADDRINUSE).
 */
function probe(socket: string): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    c.once('connect', () => {
      c.destroy();
      resolve('live');
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') return resolve('stale');
      lstat(socket).then(() => resolve('stale'), () => resolve('absent'));
    });
  });
}

/**
 * Removes what is left at the socket path. In our private runtime directory
 * anything there is ours; at a --socket elsewhere only a socket or a symlink is
 * removed, never a file the user may care about.
 */
async function removeStale(paths: Paths, log: Logger): Promise<void> {
  const st = await lstat(paths.socket).catch(() => null);
  if (!st) return;
  if (!paths.defaultSocket && !st.isSocket() && !st.isSymbolicLink()) {
    throw new DaemonStartError(`${paths.socket} exists and is not a socket; remove it or choose another --socket`);
  }
  log.warn('removing stale socket (the previous daemon died; its sessions are lost)', { socket: paths.socket, symlink: st.isSymbolicLink() || undefined });
  await unlink(paths.socket).catch((err: Error) => {
    throw new DaemonStartError(`cannot remove the stale ${paths.socket}: ${err.message}; remove it or choose another --socket`);
  });
}

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The socket must never exist with looser permissions, not even briefly.
    const oldMask = process.umask(0o177);
    server.listen(socket, () => {
      process.umask(oldMask);
      server.off('error', reject);
      resolve();
    });
  });
}

/** Claims the socket path: exactly one of several racing daemons gets it. */
async function claimSocket(server: Server, paths: Paths, log: Logger): Promise<void> {
  const release = await lockfile
    .lock(paths.socket, {
      // In the private state directory: beside a --socket in a shared directory, another user could pre-create it.
      lockfilePath: join(paths.state, 'tshpool.socket.lock'),
      realpath: false,
      stale: STARTUP_LOCK_STALE_MS,
      retries: { retries: 40, minTimeout: 25, maxTimeout: 250 },
      onCompromised: (err) => log.warn('start-up lock compromised', { error: err }),
    })
    .catch((err: Error) => {
      throw new DaemonStartError(`cannot take the start-up lock in ${paths.state}: ${err.message}`);
    });
  try {
    const state = await probe(paths.socket);
    if (state === 'live') throw new DaemonStartError(`a daemon is already running on ${paths.socket}`);
    if (state === 'stale') await removeStale(paths, log);
    // No daemon serves this socket: what a dead one left is nobody's. Before listening, so no new session's directory goes too.
    await removeStaleSessionDirs(join(paths.state, 'sessions'), log);
    await listen(server, paths.socket);
    await chmod(paths.socket, 0o600);
  } finally {
    await release().catch(() => undefined);
  }
}

/** Removes the session directories a previous daemon left behind (it died without cleaning up). */
async function removeStaleSessionDirs(dir: string, log: Logger): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.length === 0) return;
  await Promise.all(names.map((n) => rm(join(dir, n), { recursive: true, force: true }).catch(() => undefined)));
  log.info('removed session directories left by a previous daemon', { count: names.length });
}

/** The first fd systemd passes (sd_listen_fds). */
const SD_LISTEN_FDS_START = 3;

/**
 * Socket activation: systemd passes the listening socket as fd 3 with
 * LISTEN_FDS=1 and LISTEN_PID=<our pid>. Returns whether we were handed one.
 */
function systemdSocket(): number | null {
  // Passed on by a wrapper's `daemon` (client/daemonize.ts), which systemd activated.
  if (process.env.TSHPOOL_LISTEN_FD === String(SD_LISTEN_FDS_START)) {
    delete process.env.TSHPOOL_LISTEN_FD;
    return SD_LISTEN_FDS_START;
  }
  if (process.env.LISTEN_FDS !== '1' || process.env.LISTEN_PID !== String(process.pid)) return null;
  // Not for our children (sessions' shells).
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDNAMES;
  return SD_LISTEN_FDS_START;
}

function listenOnFd(server: Server, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** At start-up (before serving): a --log-file that must not be written stops the daemon with the reason. */
function refuseUnsafeLog(file: string): void {
  try {
    closeSync(openLogFileSync(file));
  } catch (err) {
    if (err instanceof UnsafeFileError) throw new DaemonStartError(err.message);
    // Unwritable (missing directory, full disk): the daemon runs and retries the log.
  }
}

/** Checks `attach --hook` names and command lines; returns a problem or null. */
function checkHookCommands(hooks: Record<string, string[]>): string | null {
  for (const [name, lines] of Object.entries(hooks)) {
    if (!(HOOK_COMMAND_NAMES as readonly string[]).includes(name)) return `unknown hook '${name}' (use ${HOOK_COMMAND_NAMES.join(', ')})`;
    for (const line of lines) {
      try {
        checkCommandLine(line);
      } catch (err) {
        return `invalid --hook ${name}: ${(err as Error).message}`;
      }
    }
  }
  return null;
}

/** The one door for session events and decisions, with the wrapper's hook host when there is one. */
function makeLifecycle(
  spec: HookHostSpec | null,
  deps: { log: Logger; config: () => Config; events: EventHub; socket: string },
): { dispatcher: LifecycleDispatcher; host: HookHost | null } {
  let dispatcher: LifecycleDispatcher | null = null;
  const host = spec
    ? new HookHost({
        spec,
        env: { ...process.env, [ENV_SOCKET]: deps.socket },
        log: deps.log,
        heapLimitMb: deps.config().hooks.hostHeapLimitMb,
        onReport: (r) => dispatcher?.onHostReport(r),
      })
    : null;
  dispatcher = new LifecycleDispatcher({ log: deps.log, config: deps.config, events: deps.events, host });
  return { dispatcher, host };
}

/** Listens on the socket systemd passed, or claims the socket path; returns the systemd fd (null when claimed). */
async function startListening(server: Server, paths: Paths, log: Logger): Promise<number | null> {
  const activatedFd = systemdSocket();
  if (activatedFd === null) {
    await claimSocket(server, paths, log);
    return null;
  }
  await removeStaleSessionDirs(join(paths.state, 'sessions'), log);
  await listenOnFd(server, activatedFd);
  log.info('using the listening socket passed by systemd', { fd: activatedFd });
  return activatedFd;
}

/** Runs the daemon until SIGTERM/SIGINT; resolves to the exit code. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { paths } = opts;
  checkSocketPathLength(paths.socket);
  ensureDirs(paths);
  if (paths.explicitLog) refuseUnsafeLog(paths.log);
  const log = new Logger(paths.log, opts.logLevel);
  for (const w of opts.loaded.warnings) log.warn(w);

  let config: Config = opts.loaded.config;
  const configState = { files: opts.loaded.files, loadedAtUnixMs: Date.now(), error: null as string | null };
  const startedAt = Date.now();
  const guard = { internalErrors: 0 };
  const unguard = guardProcess(log, guard);
  const events = new EventHub(log);
  const hostSpec = hookHostSpec(log);
  const { dispatcher, host } = makeLifecycle(hostSpec, { log, config: () => config, events, socket: paths.socket });
  const onEvent = (event: SessionEventFields, session: Session): void => dispatcher.emit(event, session.hookCommands);
  const info = userInfo();
  let integration = null;
  try {
    integration = await writeShellIntegration(join(paths.state, 'shell-integration'));
  } catch (err) {
    log.warn('cannot write the shell integration scripts; prompts will not be prefixed', { error: err as Error });
  }
  const turns = new DetachedTurns(() => config.detached_flood_turns);
  const table = new SessionTable({
    log,
    user: { home: process.env.HOME || info.homedir, user: info.username, shell: info.shell || process.env.SHELL || '/bin/sh' },
    config: () => config,
    configFiles: () => configState.files,
    sessionsDir: join(paths.state, 'sessions'),
    baseEnv: {
      [ENV_SOCKET]: paths.socket,
      ...(process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {}),
    },
    integration,
    onEvent,
    turns,
  });

  const status = (): DaemonStatus => {
    return {
      pid: process.pid,
      version: VERSION,
      startedAtUnixMs: startedAt,
      uptimeMs: Date.now() - startedAt,
      sessions: table.size,
      socket: paths.socket,
      logFile: paths.log,
      logDropped: log.dropped,
      logError: log.lastError,
      ...dispatcher.status(),
      internalErrors: guard.internalErrors,
      config: { ...configState },
      floodTurns: { current: turns.current?.name ?? null, waiting: turns.queued.map((t) => t.name) },
    };
  };
  const server = createServer();
  // Handlers first: a client polling for the socket may connect the moment it listens.
  serve(server, { log, config: () => config, table, events, status, checkHookCommands, lifecycle: dispatcher, wrapper: hostSpec?.command.at(-1) ?? null });
  let activatedFd: number | null;
  try {
    activatedFd = await startListening(server, paths, log);
  } catch (err) {
    log.error('daemon not started', { error: err as Error });
    unguard();
    await log.close();
    throw err;
  }
  host?.start();

  const watcher = watchConfig(
    opts.configSources,
    (loaded) => {
      config = loaded.config;
      Object.assign(configState, { files: loaded.files, loadedAtUnixMs: Date.now(), error: null });
      for (const w of loaded.warnings) log.warn(w);
      log.info('config reloaded; new sessions and attaches use it', { files: loaded.files.join(', ') });
    },
    (err) => {
      configState.error = err.message;
      log.warn('config reload failed; keeping the previous config', { error: err });
    },
  );
  log.info('daemon started', { pid: process.pid, version: VERSION, socket: paths.socket });

  // Shutdown, in order: no new clients, the sessions end, the socket goes, the last hooks run (bounded).
  return untilStopped(log, async () => {
    log.info('ending the sessions', { sessions: table.size });
    watcher.close();
    server.close();
    await Promise.race([Promise.all(table.all().map((s) => s.kill('shutdown'))), new Promise((r) => setTimeout(r, SHUTDOWN_SESSIONS_WAIT_MS))]);
    turns.dispose();
    // A socket systemd passed us is systemd's to remove.
    if (activatedFd === null) await unlink(paths.socket).catch(() => undefined);
    await dispatcher.drain(SHUTDOWN_HOOK_GRACE_MS);
    unguard();
    log.info('daemon stopped');
    await log.close();
  });
}

/** Resolves to 0 once SIGTERM or SIGINT arrived and `shutdown` finished; SIGHUP is ignored, as by tmux's server. */
function untilStopped(log: Logger, shutdown: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      void shutdown().finally(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        process.off('SIGHUP', onHup);
        resolve(0);
      });
    };
    // A detached daemon has no terminal; one started in the foreground outlives its terminal.
    const onHup = (): void => log.info('ignoring SIGHUP');
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHup);
  });
}
