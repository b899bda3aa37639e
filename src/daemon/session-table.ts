/**
 * The daemon's sessions by name, and how a new one is prepared and created.
 */
import { constants } from 'node:fs';
import { access, readFile, readdir, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { createSpool } from '../restore/create-spool.js';
import type { Logger } from './log.js';
import type { DetachedTurns } from './detached-turns.js';
import { SessionDir } from './session-dir.js';
import { Session, type SessionEventFields } from './session.js';
import { buildSpawnSpec, type SpawnSpec, type UserInfo } from './shell-env.js';
import type { IntegrationPaths } from './shell-integration.js';

/** fds forkpty needs (master, slave) and then some: fewer free than this is "out of fds". */
const SPAWN_FD_HEADROOM = 4;

/** The soft RLIMIT_NOFILE from /proc, or null. */
async function openFilesLimit(): Promise<number | null> {
  const text = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const m = /^Max open files\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Why a pty could not be started, said so the user can act: node-pty reports only
 * "forkpty(3) failed.", and the usual cause is the daemon's open-files limit.
 */
export async function spawnFailureReason(err: Error): Promise<string> {
  const [limit, fds] = await Promise.all([openFilesLimit(), readdir('/proc/self/fd').then((e) => e.length, (e: NodeJS.ErrnoException) => e)]);
  const exhausted = fds instanceof Error ? fds.code === 'EMFILE' || fds.code === 'ENFILE' : limit !== null && fds + SPAWN_FD_HEADROOM >= limit;
  if (!exhausted) return `cannot start the session: ${err.message}`;
  const usage = typeof fds === 'number' && limit !== null ? ` (${fds} of its limit of ${limit} are open)` : '';
  return (
    `cannot start the session: the daemon has too many open files${usage}. ` +
    'Raise its limit (ulimit -n before starting it, or LimitNOFILE= in its systemd unit) and restart it, or end sessions you no longer need.'
  );
}

export class SpawnProblem extends Error {
  override name = 'SpawnProblem';
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Finds `command` like execvp would, so a typo is reported instead of spawning a dead session. */
async function resolveCommand(command: string, path: string): Promise<string | null> {
  if (command.includes('/')) return (await isExecutable(command)) ? command : null;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

export interface Prepared {
  spec: SpawnSpec;
  dir: SessionDir;
  /** The config the session is created with (restore mode, spool size). */
  config: Config;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  /** Pending session-directory removals by name, so a new session of the same name never loses its fresh directory. */
  private readonly dirRemovals = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      log: Logger;
      user: UserInfo;
      config: () => Config;
      /** The config files in force, to name them in errors caused by their values. */
      configFiles: () => readonly string[];
      /** Where session directories live ($TSHPOOL_SESSION_DIR = sessionsDir/NAME). */
      sessionsDir: string;
      /** Variables every session gets from the daemon (TSHPOOL_SOCKET, XDG_RUNTIME_DIR). */
      baseEnv: Record<string, string>;
      integration: IntegrationPaths | null;
      onEvent: (event: SessionEventFields, session: Session) => void;
      turns: DetachedTurns;
    },
  ) {}

  /** Where a session starts when the client gives no directory. */
  get homeDir(): string {
    return this.deps.user.home;
  }

  get(name: string): Session | undefined {
    return this.sessions.get(name);
  }

  all(): Session[] {
    return [...this.sessions.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** ` (shell in FILE)`: where a config value that failed came from, so the user knows what to fix. */
  private fromConfig(key: string): string {
    const files = this.deps.configFiles();
    return files.length ? ` (${key} in ${files.join(' or ')}; fix it there)` : '';
  }

  /** Checks the directory and command, creates the session directory and builds the spawn spec; throws SpawnProblem with a user-facing reason. */
  async prepare(req: { name: string; cmd: string[] | null; dir: string | null; env: Record<string, string> }): Promise<Prepared> {
    const config = this.deps.config();
    const cwd = req.dir ?? this.deps.user.home;
    if (!isAbsolute(cwd)) throw new SpawnProblem(`directory must be absolute: ${cwd}`);
    const st = await stat(cwd).catch(() => null);
    if (!st?.isDirectory()) throw new SpawnProblem(`directory does not exist: ${cwd}`);
    const dir = new SessionDir(join(this.deps.sessionsDir, req.name));
    const sessionEnv: Record<string, string> = { ...this.deps.baseEnv, TSHPOOL_SESSION_DIR: dir.path };
    if (!config.nosymlink_ssh_auth_sock) sessionEnv.SSH_AUTH_SOCK = dir.authSockLink;
    let spec: SpawnSpec;
    try {
      spec = buildSpawnSpec({
        name: req.name,
        config,
        user: this.deps.user,
        daemonPath: process.env.PATH ?? '/usr/bin:/bin',
        clientEnv: req.env,
        cmd: req.cmd,
        cwd,
        integration: this.deps.integration,
        sessionEnv,
      });
    } catch (err) {
      throw new SpawnProblem(`cannot parse the shell command: ${(err as Error).message}`);
    }
    const program = req.cmd ? req.cmd[0] : spec.file;
    if (!program) throw new SpawnProblem('the command is empty');
    const resolved = await resolveCommand(program, spec.env.PATH ?? '');
    if (!resolved) throw new SpawnProblem(`command not found: ${program}${req.cmd ? '' : this.fromConfig('shell')}`);
    await this.dirRemovals.get(req.name);
    try {
      await dir.create();
    } catch (err) {
      throw new SpawnProblem(`cannot create the session directory ${dir.path}: ${(err as Error).message}`);
    }
    return { spec, dir, config };
  }

  create(name: string, prepared: Prepared, opts: { cols: number; rows: number; ttlMs: number | null; hookCommands: Record<string, string[]> }): Session {
    const { config } = prepared;
    const session = new Session({
      name,
      spec: prepared.spec,
      dir: prepared.dir,
      cols: opts.cols,
      rows: opts.rows,
      ttlMs: opts.ttlMs,
      hookCommands: opts.hookCommands,
      makeSpool: (size, reply) => createSpool(config.session_restore_mode, { ...size, scrollbackLines: config.output_spool_lines, reply }),
      log: this.deps.log,
      onEvent: this.deps.onEvent,
      turns: this.deps.turns,
      onEnded: (s) => {
        if (this.sessions.get(s.name) === s) this.sessions.delete(s.name);
        const removal = s.dir
          .remove()
          .catch((err: Error) => this.deps.log.warn('cannot remove session directory', { session: s.name, error: err }))
          .finally(() => {
            if (this.dirRemovals.get(s.name) === removal) this.dirRemovals.delete(s.name);
          });
        this.dirRemovals.set(s.name, removal);
      },
    });
    this.sessions.set(name, session);
    this.deps.log.info('session created', { session: name, pid: session.pid, cmd: prepared.spec.cmdline });
    return session;
  }
}
