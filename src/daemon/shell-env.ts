/**
 * What a new session runs, where, and with which environment. Pure apart from
 * reading the user's passwd entry once at start-up.
 */
import { basename } from 'node:path';
import { ENV_SESSION_NAME } from '../consts.js';
import { forwardedNames, type Config } from '../config/schema.js';
import { splitShellWords } from '../util/shell-words.js';
import { ENV_BIN_DIR, ENV_NORC, ENV_PROMPT_PREFIX, ENV_USER_ZDOTDIR, expandPromptPrefix, type IntegrationPaths } from './shell-integration.js';

export interface SpawnSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** What `list` shows as the session's command. */
  cmdline: string;
}

export interface UserInfo {
  home: string;
  user: string;
  shell: string;
}

/** Shells that accept `-l` for a login shell. */
const LOGIN_FLAG_SHELLS = new Set(['bash', 'zsh', 'fish', 'sh', 'dash', 'ksh', 'mksh', 'nu', 'yash']);

interface ShellStart {
  args: string[];
  env: Record<string, string>;
}

/**
 * Arguments and extra environment to start a known shell as a login shell (or
 * without rc files for `norc`), through tshpool's prompt integration when a prefix
 * is wanted (see shell-integration.ts).
 */
function shellStart(shellName: string, norc: boolean, prefix: string, integration: IntegrationPaths | null, userEnv: Record<string, string>): ShellStart {
  const login = LOGIN_FLAG_SHELLS.has(shellName) ? ['-l'] : [];
  const integrate = prefix !== '' && integration !== null;
  const env: Record<string, string> = integrate ? { [ENV_PROMPT_PREFIX]: prefix, ...(norc ? { [ENV_NORC]: '1' } : {}) } : {};
  switch (shellName) {
    case 'bash':
      // Debian's bash reads /etc/bash.bashrc even with --init-file (its SYS_BASHRC), which
      // is not what norc gives: with norc the prefix goes straight into PS1 instead.
      // PS1 names the prefix by reference: expanded at each prompt, its value is never run as code.
      if (integrate && norc) return { args: ['--norc', '--noprofile'], env: { [ENV_PROMPT_PREFIX]: prefix, PS1: `\${${ENV_PROMPT_PREFIX}}${userEnv.PS1 ?? BASH_DEFAULT_PS1}` } };
      // A login bash ignores --init-file, so the init file reads the login files itself.
      if (integrate) return { args: ['--init-file', integration.bashInit, '-i'], env };
      return { args: norc ? ['--norc', '--noprofile'] : login, env };
    case 'zsh':
      if (integrate) {
        if (userEnv.ZDOTDIR) env[ENV_USER_ZDOTDIR] = userEnv.ZDOTDIR;
        env.ZDOTDIR = integration.zshDir;
        // -d: no global rc files for norc; ours still run (they skip the user's).
        return { args: norc ? ['-d', '-l'] : ['-l'], env };
      }
      return { args: norc ? ['-f'] : login, env };
    case 'fish': {
      const base = norc ? ['--no-config'] : login;
      return { args: integrate ? [...base, '-C', `source ${fishQuote(integration.fishInit)}`] : base, env };
    }
    default:
      return { args: login, env: {} };
  }
}

/** bash's own prompt when nothing sets PS1 (`bash --norc`). */
const BASH_DEFAULT_PS1 = '\\s-\\v\\$ ';

/** Single-quotes a path for fish (which understands \\ and \' inside single quotes). */
function fishQuote(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

export function buildSpawnSpec(opts: {
  name: string;
  config: Config;
  user: UserInfo;
  /** The daemon's own PATH, used when initial_path is not set. */
  daemonPath: string;
  clientEnv: Record<string, string>;
  cmd: string[] | null;
  cwd: string;
  /** Where the prompt integration scripts are; null = no prompt prefix. */
  integration: IntegrationPaths | null;
  /** Per-session variables (TSHPOOL_SESSION_DIR, SSH_AUTH_SOCK...), applied last. */
  sessionEnv: Record<string, string>;
}): SpawnSpec {
  const { config, user } = opts;
  let argv: string[];
  let shellEnv: Record<string, string> = {};
  // What `list` shows: the command, or the shell without tshpool's start-up arguments.
  let displayWords: number;
  if (opts.cmd) {
    argv = opts.cmd;
    displayWords = argv.length;
  } else {
    const shellWords = config.shell ? splitShellWords(config.shell) : [user.shell];
    const start = shellStart(
      basename(shellWords[0]!),
      config.norc,
      expandPromptPrefix(config.prompt_prefix, opts.name),
      opts.integration,
      config.env,
    );
    argv = [...shellWords, ...start.args];
    displayWords = shellWords.length;
    shellEnv = start.env;
  }

  const env: Record<string, string> = {
    HOME: user.home,
    USER: user.user,
    LOGNAME: user.user,
    SHELL: config.shell ? splitShellWords(config.shell)[0]! : user.shell,
    PATH: config.initial_path ?? opts.daemonPath,
  };
  for (const name of forwardedNames(config)) {
    const value = opts.clientEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [k, v] of Object.entries(config.env)) {
    if (v === '') delete env[k];
    else env[k] = v;
  }
  Object.assign(env, opts.sessionEnv, shellEnv);
  env[ENV_SESSION_NAME] = opts.name;
  if (opts.integration) {
    // `tshpool` inside the session reaches this daemon's tshpool, also when it is not installed on PATH.
    const dir = opts.integration.binDir;
    env[ENV_BIN_DIR] = dir;
    if (!(env.PATH ?? '').split(':').includes(dir)) env.PATH = env.PATH ? `${env.PATH}:${dir}` : dir;
  }

  const cmdline = argv.slice(0, displayWords).join(' ');
  if (config.noecho) {
    // node-pty cannot set termios, so turn echo off from inside the pty and exec
    // the real program: it keeps the pid (and so the process group we signal).
    argv = ['/bin/sh', '-c', 'stty -echo 2>/dev/null; exec "$@"', 'tshpool-noecho', ...argv];
  }
  return { file: argv[0]!, args: argv.slice(1), env, cwd: opts.cwd, cmdline };
}
