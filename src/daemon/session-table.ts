/**
 * The daemon's sessions by name, and how a new one is prepared and created.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { HookEvent } from '../hooks/hooks.js';
import { NullSpool, type Spool } from '../restore/spool.js';
import type { Logger } from './log.js';
import { Session } from './session.js';
import { buildSpawnSpec, type SpawnSpec, type UserInfo } from './shell-env.js';

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

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly deps: {
      log: Logger;
      user: UserInfo;
      config: () => Config;
      onEvent: (event: HookEvent, session: Session) => void;
      makeSpool?: (config: Config) => Spool;
    },
  ) {}

  get(name: string): Session | undefined {
    return this.sessions.get(name);
  }

  all(): Session[] {
    return [...this.sessions.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Checks the directory and command and builds the spawn spec; throws SpawnProblem with a user-facing reason. */
  async prepare(req: { name: string; cmd: string[] | null; dir: string | null; env: Record<string, string> }): Promise<SpawnSpec> {
    const config = this.deps.config();
    const cwd = req.dir ?? this.deps.user.home;
    if (!isAbsolute(cwd)) throw new SpawnProblem(`directory must be absolute: ${cwd}`);
    const st = await stat(cwd).catch(() => null);
    if (!st?.isDirectory()) throw new SpawnProblem(`directory does not exist: ${cwd}`);
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
      });
    } catch (err) {
      throw new SpawnProblem(`cannot parse the shell command: ${(err as Error).message}`);
    }
    const program = req.cmd ? req.cmd[0] : spec.cmdline.split(' ')[0];
    if (!program) throw new SpawnProblem('the command is empty');
    const resolved = await resolveCommand(program, spec.env.PATH ?? '');
    if (!resolved) throw new SpawnProblem(`command not found: ${program}`);
    return spec;
  }

  create(name: string, spec: SpawnSpec, opts: { cols: number; rows: number; ttlMs: number | null; hookCommands: Record<string, string[]> }): Session {
    const config = this.deps.config();
    const session = new Session({
      name,
      spec,
      cols: opts.cols,
      rows: opts.rows,
      ttlMs: opts.ttlMs,
      hookCommands: opts.hookCommands,
      spool: this.deps.makeSpool?.(config) ?? new NullSpool(),
      log: this.deps.log,
      onEvent: this.deps.onEvent,
      onEnded: (s) => {
        if (this.sessions.get(s.name) === s) this.sessions.delete(s.name);
      },
    });
    this.sessions.set(name, session);
    this.deps.log.info('session created', { session: name, pid: session.pid, cmd: spec.cmdline });
    return session;
  }
}
