/**
 * The command line: parses argv with commander and dispatches to the client
 * commands or the daemon. All user-facing failures become a message on stderr
 * and an exit code here, in one place.
 */
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { loadConfig, ConfigError, type ConfigSources, type LoadedConfig } from './config/load.js';
import { DEFAULT_CONFIG, HOOK_COMMAND_NAMES, type Config } from './config/schema.js';
import { definedHooks, type Hooks } from './hooks/hooks.js';
import { ENV_HOOK_HOST, type HookHostSpec } from './protocol/hook-host.js';
import { SESSION_EVENTS, SESSION_EVENT_TYPES, type SessionEventType } from './protocol/events.js';
import type { DaemonLaunch } from './client/daemonize.js';
import { resolve as resolvePath } from 'node:path';
import { resolvePaths, SYSTEM_CONFIG_PATH, userConfigPath, PathError, type Paths } from './paths.js';
import { sessionNameProblem } from './protocol/names.js';
import { parseDuration } from './util/duration.js';
import { splitShellWords } from './util/shell-words.js';
import { VERSION } from './version.js';
import { ENV_SESSION_NAME, ENV_SOCKET } from './consts.js';
import { ExitCode, reportFailure, UserError } from './client/errors.js';
import { connect, connectExisting, type DaemonConnection } from './client/connect.js';

// commander's CommonJS loaded with require takes ~8 ms; imported as ESM (export
// lexing of its files) ~20 ms, paid by every command at start-up.
const commander = createRequire(import.meta.url)('commander') as typeof import('commander');

interface GlobalOptions {
  socket?: string;
  configFile?: string;
  logFile?: string;
  verbose: number;
  daemonize: boolean;
}

const increase = (_: string, previous: number): number => previous + 1;
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `--hook on_shell_disconnect='notify done'` → { on_shell_disconnect: ['notify done'] }. */
function parseHookOptions(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const name = eq > 0 ? v.slice(0, eq) : '';
    if (!(HOOK_COMMAND_NAMES as readonly string[]).includes(name) || v.slice(eq + 1).trim() === '') {
      throw new UserError(`invalid --hook ${JSON.stringify(v)}: use NAME=COMMAND with NAME one of ${HOOK_COMMAND_NAMES.join(', ')}`, ExitCode.Usage);
    }
    (out[name] ??= []).push(v.slice(eq + 1));
  }
  return out;
}

function warn(msg: string): void {
  process.stderr.write(`tshpool: warning: ${msg}\n`);
}

/** Attaching to (or viewing) the session you are in would feed its output back into itself. */
function refuseSelf(name: string, paths: Paths): void {
  if (process.env[ENV_SESSION_NAME] === name && process.env[ENV_SOCKET] === paths.socket) {
    throw new UserError(`you are inside session '${name}' already: attaching to it from inside would loop its output back into itself`);
  }
}

/** A non-negative whole-number option, or a usage error naming it. */
function wholeNumber(option: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new UserError(`invalid ${option} ${JSON.stringify(value)}: use a whole number`, ExitCode.Usage);
  return n;
}

function checkName(name: string): string {
  const problem = sessionNameProblem(name);
  if (problem) throw new UserError(`invalid session name ${JSON.stringify(name)}: ${problem}`, ExitCode.Usage);
  return name;
}

class Context {
  constructor(
    readonly global: GlobalOptions,
    /** How a daemon runs this wrapper's hooks; null for plain tshpool. */
    readonly hookHost: HookHostSpec | null,
  ) {}

  get paths(): Paths {
    return resolvePaths({ socket: this.global.socket, logFile: this.global.logFile });
  }

  get configSources(): ConfigSources {
    return { explicitFile: this.global.configFile ?? null, systemFile: SYSTEM_CONFIG_PATH, userFile: userConfigPath() };
  }

  loadConfig(quiet = false): LoadedConfig {
    const loaded = loadConfig(this.configSources);
    if (!quiet) loaded.warnings.forEach(warn);
    return loaded;
  }

  launch(): DaemonLaunch {
    return { globalArgs: this.globalArgs(), hookHost: this.hookHost };
  }

  /** Options a daemon started by this client must see too. */
  globalArgs(): string[] {
    const args: string[] = [];
    if (this.global.socket) args.push('--socket', this.global.socket);
    if (this.global.configFile) args.push('--config-file', this.global.configFile);
    if (this.global.logFile) args.push('--log-file', this.global.logFile);
    for (let i = 0; i < this.global.verbose; i++) args.push('-v');
    return args;
  }

  /**
   * The config for commands that only need nodaemonize: a broken config file must
   * not lock the user out of list, kill, status... (attach and view still refuse it).
   */
  private configForConnect(): Config {
    try {
      return this.loadConfig(true).config;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (!this.configWarned) warn(`${err.message} (using the defaults for this command)`);
      this.configWarned = true;
      return DEFAULT_CONFIG;
    }
  }

  /** A broken config was reported already (once per command is enough). */
  private configWarned = false;

  /**
   * The config for attach, view and choose. A broken config file must not lock
   * the user out of running sessions: this client then uses the defaults (the
   * daemon keeps the config it has) and says so; only creating a session is
   * refused, since it would start without the settings the user wrote.
   */
  async configOrDefaults(createsSession: () => Promise<boolean>): Promise<Config> {
    try {
      return this.loadConfig().config;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (await createsSession()) {
        throw new UserError(`${err.message}\nFix the file to create a session; sessions that exist can still be attached and viewed meanwhile.`);
      }
      warn(`${err.message} (this command uses the default settings and keys; the daemon keeps the config it has)`);
      this.configWarned = true;
      return DEFAULT_CONFIG;
    }
  }

  /** Whether `name` is a running session (false when no daemon runs). */
  async sessionExists(name: string): Promise<boolean> {
    const conn = await connectExisting(this.paths).catch(() => null);
    if (!conn) return false;
    try {
      const { fetchSessions } = await import('./client/commands.js');
      return (await fetchSessions(conn)).some((s) => s.name === name);
    } finally {
      conn.close();
    }
  }

  async connect(): Promise<DaemonConnection> {
    const config = this.configForConnect();
    return connect({
      paths: this.paths,
      autoStart: this.global.daemonize && !config.nodaemonize,
      launch: this.launch(),
      notice: (m) => process.stderr.write(`tshpool: ${m}\n`),
    });
  }

  /** Runs `fn` with a connection and always closes it. */
  async with<T>(fn: (c: DaemonConnection) => Promise<T> | T): Promise<T> {
    const conn = await this.connect();
    try {
      return await fn(conn);
    } finally {
      conn.close();
    }
  }
}

function buildProgram(hookHost: HookHostSpec | null, setResult: (p: Promise<number>) => void): Command {
  const program = new commander.Command('tshpool');
  let ctx: Context;
  const context = (): Context => (ctx ??= new Context(program.opts<GlobalOptions>(), hookHost));
  const run = (fn: () => Promise<number> | number): void => setResult(Promise.resolve().then(fn));

  program
    .description('Persistent shell sessions that survive dropped connections.')
    .version(VERSION, '--version', 'print the version')
    .option('--socket <path>', 'daemon socket (default: $TSHPOOL_SOCKET inside a session, else $XDG_RUNTIME_DIR/tshpool/tshpool.socket or ${TMPDIR:-/tmp}/tshpool-<uid>/tshpool.socket)')
    .option('--config-file <file>', 'use this config file alone (default ~/.config/tshpool/config.toml over /etc/tshpool/config.toml)')
    .option('--log-file <file>', 'daemon log file (default: tshpool.log in the private runtime directory; never a symlink or a file of another user)')
    .option('-v, --verbose', 'more daemon logging; repeat for more (-vv)', increase, 0)
    .option('--no-daemonize', 'never start a daemon automatically')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('attach')
    .description('attach to a session, creating it if needed')
    .argument('<name>', 'session name')
    .option('-f, --force', 'take the session over from another attached terminal')
    .option('-b, --background', 'create (or confirm) the session and return without attaching')
    .option('--ttl <duration>', 'kill the session after this long, e.g. 90s, 30m, 3h, 2d, 1h30m')
    .option('-c, --cmd <command>', 'run this command instead of a shell (split into words like a shell)')
    .option('-d, --dir <dir>', 'start in this directory (. = here; default default_dir or $HOME)')
    .option('--hook <name=command>', `run COMMAND on this session's NAME event (${HOOK_COMMAND_NAMES.join(', ')}); repeatable; added to an existing session`, collect, [])
    .addHelpText(
      'after',
      "\nExamples:\n  tshpool attach main\n  ssh -t host tshpool attach main\n  tshpool attach -b --ttl 2h -c 'make watch' build\n  tshpool attach --hook on_shell_disconnect='notify-send done' build",
    )
    .action((name: string, o: { force?: boolean; background?: boolean; ttl?: string; cmd?: string; dir?: string; hook: string[] }) =>
      run(async () => {
        checkName(name);
        let ttlMs: number | null = null;
        if (o.ttl !== undefined) {
          ttlMs = parseDuration(o.ttl);
          if (ttlMs === null) throw new UserError(`invalid --ttl ${JSON.stringify(o.ttl)}: use a duration like 90s, 30m, 3h, 2d or 1h30m`, ExitCode.Usage);
        }
        let cmd: string[] | null = null;
        if (o.cmd !== undefined) {
          try {
            cmd = splitShellWords(o.cmd);
          } catch (err) {
            throw new UserError(`invalid --cmd: ${(err as Error).message}`, ExitCode.Usage);
          }
          if (cmd.length === 0) throw new UserError('invalid --cmd: the command is empty', ExitCode.Usage);
        }
        const hooks = parseHookOptions(o.hook);
        if (!o.background) refuseSelf(name, context().paths);
        const config = await context().configOrDefaults(async () => !(await context().sessionExists(name)));
        const { attach } = await import('./client/attach.js');
        return context().with((c) =>
          attach(c, { name, force: !!o.force, background: !!o.background, ttlMs, cmd, dir: o.dir ?? null, hooks, config }),
        );
      }),
    );

  program
    .command('view')
    .description('watch a session read-only (leave with the detach keys or Ctrl-C)')
    .argument('<name>', 'session name')
    .addHelpText('after', '\nSeveral viewers may watch at once; the session does not become busy.\nExample:\n  tshpool view build')
    .action((name: string) =>
      run(async () => {
        checkName(name);
        refuseSelf(name, context().paths);
        const config = await context().configOrDefaults(async () => false);
        const { view } = await import('./client/attach.js');
        return context().with((c) => view(c, { name, config }));
      }),
    );

  program
    .command('capture')
    .description("print a session's current screen as text")
    .argument('<name>', 'session name')
    .option('--scrollback <n>', 'also print up to N lines of scrollback above the screen', '0')
    .option('--ansi', 'keep colours and attributes as escape sequences')
    .addHelpText('after', '\nExample:\n  tshpool capture build --scrollback 100 | grep -i error')
    .action((name: string, o: { scrollback: string; ansi?: boolean }) =>
      run(async () => {
        checkName(name);
        const scrollback = wholeNumber('--scrollback', o.scrollback);
        const { capture } = await import('./client/commands.js');
        return context().with((c) => capture(c, name, scrollback, !!o.ansi));
      }),
    );

  program
    .command('send')
    .description('type into a session, like tmux send-keys')
    .argument('<name>', 'session name')
    .argument('<text...>', 'text to type (words joined by spaces); with --keys, key names')
    .option('--keys', 'treat each argument as a key name (Enter, C-c, Up, Esc...) or, if it is none, literal text')
    .addHelpText('after', "\nExamples:\n  tshpool send build 'make test'          # types the text, no Enter\n  tshpool send build --keys 'make test' Enter\n  tshpool send build --keys C-c")
    .action((name: string, text: string[], o: { keys?: boolean }) =>
      run(async () => {
        checkName(name);
        const { keyBytes } = await import('./util/keys.js');
        const data = o.keys ? text.map((t) => keyBytes(t) ?? t).join('') : text.join(' ');
        const { send } = await import('./client/commands.js');
        return context().with((c) => send(c, name, data));
      }),
    );

  program
    .command('detach')
    .description("detach the terminals of sessions (default: the session you are in)")
    .argument('[names...]', 'session names')
    .action((names: string[]) =>
      run(async () => {
        const { detach, namesOrCurrent } = await import('./client/commands.js');
        const targets = namesOrCurrent(names, 'detach');
        return context().with((c) => detach(c, targets));
      }),
    );

  program
    .command('kill')
    .description('end sessions: SIGHUP to their processes, SIGKILL after 500 ms (default: the session you are in)')
    .argument('[names...]', 'session names')
    .action((names: string[]) =>
      run(async () => {
        const { kill, namesOrCurrent } = await import('./client/commands.js');
        const targets = namesOrCurrent(names, 'kill');
        return context().with((c) => kill(c, targets));
      }),
    );

  program
    .command('choose')
    .description('pick a session in a full-screen list: attach, view, create or kill (also plain `tshpool` at a terminal)')
    .addHelpText('after', '\nKeys: Up/Down or j/k move, Enter attach, v view, n new, x kill, / filter, r refresh, q or Esc quit.')
    .action(() =>
      run(async () => {
        const config = await context().configOrDefaults(async () => false);
        const { choose } = await import('./client/choose.js');
        return choose({ connect: () => context().connect(), config });
      }),
    );

  program
    .command('list')
    .alias('ls')
    .description('list sessions')
    .option('--json', 'machine-readable output')
    .option('--names', 'only the names, one per line (for scripts and completion)')
    .action((o: { json?: boolean; names?: boolean }) =>
      run(async () => {
        const { list } = await import('./client/commands.js');
        return context().with((c) => list(c, o.json ? 'json' : o.names ? 'names' : 'table'));
      }),
    );

  program
    .command('events')
    .description('print session events as JSON lines until interrupted')
    .option('--session <name>', 'only events of this session')
    .option('--type <types>', 'only these event types (comma-separated, or repeat the option)', collect, [])
    .option('--history <n>', 'first replay up to N past events the daemon kept', '0')
    .option('--since <seq>', 'first replay every kept event after this seq (from a previous run), to see what was missed')
    .addHelpText('after', `\nEvents:\n${SESSION_EVENT_TYPES.map((t) => `  ${t.padEnd(22)} ${SESSION_EVENTS[t].help}`).join('\n')}\nEvery event has a seq (one more per event): a gap means events were missed.\nExample:\n  tshpool events --history 20 | jq .`)
    .action((o: { session?: string; history: string; since?: string; type: string[] }) =>
      run(async () => {
        const history = wholeNumber('--history', o.history);
        const since = o.since === undefined ? null : wholeNumber('--since', o.since);
        const session = o.session === undefined ? null : checkName(o.session);
        const types = o.type.length ? o.type.flatMap((t) => t.split(',')).map((t) => t.trim()) : null;
        for (const t of types ?? []) {
          if (!(SESSION_EVENT_TYPES as string[]).includes(t)) throw new UserError(`unknown event type '${t}' (use ${SESSION_EVENT_TYPES.join(', ')})`, ExitCode.Usage);
        }
        const { streamEvents } = await import('./client/events.js');
        return context().with((c) => streamEvents(c, { session, history, since, types: types as SessionEventType[] | null }));
      }),
    );

  program
    .command('status')
    .description('show the daemon, its config and hook counters')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      run(async () => {
        const { status } = await import('./client/events.js');
        return context().with((c) => status(c, !!o.json));
      }),
    );

  program
    .command('version')
    .description('print the client and daemon versions')
    .action(() =>
      run(async () => {
        const { version } = await import('./client/commands.js');
        const conn = await connectExisting(context().paths).catch(() => null);
        try {
          return version(conn);
        } finally {
          conn?.close();
        }
      }),
    );

  program
    .command('set-log-level')
    .description("change the daemon's log level")
    .addArgument(new commander.Command().createArgument('<level>', 'error | warn | info | debug | trace'))
    .action((level: string) =>
      run(async () => {
        const { isLogLevel, LOG_LEVELS } = await import('./daemon/log.js');
        if (!isLogLevel(level)) throw new UserError(`unknown log level '${level}': use one of ${LOG_LEVELS.join(', ')}`, ExitCode.Usage);
        const { setLogLevel } = await import('./client/commands.js');
        return context().with((c) => setLogLevel(c, level));
      }),
    );

  program
    .command('logs')
    .description("show the daemon's log (no daemon needed)")
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-n, --lines <n>', 'how many of the last lines to show', '50')
    .action((o: { follow?: boolean; lines: string }) =>
      run(async () => {
        const lines = wholeNumber('--lines', o.lines);
        const { logs } = await import('./client/logs.js');
        return logs(context().paths.log, lines, !!o.follow);
      }),
    );

  program
    .command('doctor')
    .description('check the runtime directory, socket, daemon, config and native modules, with a fix for each problem')
    .action(() =>
      run(async () => {
        const { doctor } = await import('./client/doctor.js');
        return doctor(context().paths, context().configSources);
      }),
    );

  program
    .command('completion')
    .description('print a shell completion script (subcommands, options, session names)')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText(
      'after',
      '\nExamples:\n  tshpool completion bash > ~/.local/share/bash-completion/completions/tshpool\n  tshpool completion zsh > "${fpath[1]}/_tshpool"\n  tshpool completion fish > ~/.config/fish/completions/tshpool.fish',
    )
    .action((shell: string) =>
      run(async () => {
        const { completion } = await import('./client/completion.js');
        const sessionCommands = new Set(['attach', 'view', 'capture', 'send', 'detach', 'kill']);
        const flags = (c: Command): string[] =>
          c.options.filter((opt) => !opt.hidden).flatMap((opt) => [opt.short, opt.long].filter((f): f is string => !!f));
        return completion(shell, {
          globalOptions: flags(program),
          commands: program.commands.map((c) => ({ names: [c.name(), ...c.aliases()], options: flags(c), takesSession: sessionCommands.has(c.name()) })),
        });
      }),
    );

  program
    .command('systemd')
    .description('install systemd user units (socket activation) for the daemon')
    .argument('<action>', 'install')
    .option('--print', 'print the units instead of writing them')
    .action((action: string, o: { print?: boolean }) =>
      run(async () => {
        if (action !== 'install') throw new UserError(`unknown systemd action '${action}': use 'install'`, ExitCode.Usage);
        const { installSystemdUnits } = await import('./client/systemd.js');
        return installSystemdUnits({ script: process.argv[1]!, printOnly: !!o.print });
      }),
    );

  program
    .command('daemon')
    .description('run the daemon in the foreground (normally started automatically)')
    .action(() =>
      run(async () => {
        const g = context();
        if (g.hookHost) {
          const { runDaemonForWrapper } = await import('./client/daemonize.js');
          return runDaemonForWrapper(g.launch());
        }
        const loaded = g.loadConfig(true);
        const { runDaemon } = await import('./daemon/main.js');
        const { levelForVerbosity } = await import('./daemon/log.js');
        const code = await runDaemon({
          paths: g.paths,
          loaded,
          configSources: g.configSources,
          logLevel: levelForVerbosity(g.global.verbose),
        });
        // The daemon is this process: once it stopped, leftover handles (a session's
        // late I/O, say) must not keep it alive.
        setTimeout(() => process.exit(code), 0).unref();
        return code;
      }),
    );

  program.addOption(new commander.Option('--daemonize', 'start a daemon automatically when none runs (the default)').hideHelp());
  return program;
}

/**
 * How the daemon runs a wrapper again as its hook host: this very program with
 * its Node flags (tsx, --import preloads). Null for plain tshpool or hooks
 * without a method.
 */
function hookHostCommand(hooks: Hooks | undefined): HookHostSpec | null {
  const methods = hooks ? definedHooks(hooks) : [];
  const script = process.argv[1];
  if (methods.length === 0 || !script) return null;
  return { command: [process.execPath, ...process.execArgv, resolvePath(script)], methods };
}

/** Runs the CLI; resolves to the process exit code. Never throws. */
export async function main(argv: readonly string[], hooks?: Hooks): Promise<number> {
  // Only the daemon's own child is a hook host (it has the IPC channel); the variable
  // is removed at once so that nothing a hook runs (a `tshpool` command) inherits it.
  const hookHost = process.env[ENV_HOOK_HOST] !== undefined && typeof process.send === 'function';
  delete process.env[ENV_HOOK_HOST];
  if (hookHost) {
    const { serveHooks } = await import('./client/hook-host.js');
    return serveHooks(hooks ?? {});
  }
  let result: Promise<number> | null = null;
  const program = buildProgram(hookHostCommand(hooks), (p) => (result = p));
  try {
    // No arguments: a person at a terminal gets the picker; scripts and pipes the help.
    const atTerminal = process.stdin.isTTY === true && process.stdout.isTTY === true && process.env.TERM !== 'dumb';
    if (argv.length === 0 && !atTerminal) {
      program.outputHelp();
      return ExitCode.Ok;
    }
    await program.parseAsync(argv.length === 0 ? ['choose'] : [...argv], { from: 'user' });
    return result ? await result : ExitCode.Ok;
  } catch (err) {
    if (err instanceof commander.CommanderError) {
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (err instanceof ConfigError || err instanceof PathError) {
      process.stderr.write(`tshpool: ${err.message}\n`);
      return ExitCode.Error;
    }
    const e = err as Error;
    if (e?.name === 'DaemonStartError') {
      process.stderr.write(`tshpool: ${e.message}\n`);
      return ExitCode.Error;
    }
    // A UserError, or an internal error with its stack.
    return reportFailure(err);
  }
}

/** The command tree without running anything: for the man page generator (scripts/gen-man.mjs). */
export function programForDocs(): Command {
  return buildProgram(null, () => undefined);
}
