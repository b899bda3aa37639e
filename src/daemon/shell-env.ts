/**
 * What a new session runs, where, and with which environment. Pure apart from
 * reading the user's passwd entry once at start-up.
 */
import { basename } from 'node:path';
import { ENV_SESSION_NAME } from '../consts.js';
import { forwardedNames, type Config } from '../config/schema.js';
import { splitShellWords } from '../util/shell-words.js';

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

function norcArgs(shellName: string): string[] {
  switch (shellName) {
    case 'bash':
      return ['--norc', '--noprofile'];
    case 'zsh':
      return ['-f'];
    case 'fish':
      return ['--no-config'];
    default:
      return [];
  }
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
}): SpawnSpec {
  const { config, user } = opts;
  let argv: string[];
  if (opts.cmd) {
    argv = opts.cmd;
  } else {
    const shellWords = config.shell ? splitShellWords(config.shell) : [user.shell];
    const shellName = basename(shellWords[0]!);
    argv = [...shellWords];
    if (config.norc) argv.push(...norcArgs(shellName));
    if (LOGIN_FLAG_SHELLS.has(shellName)) argv.push('-l');
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
  env[ENV_SESSION_NAME] = opts.name;

  const cmdline = argv.join(' ');
  if (config.noecho) {
    // node-pty cannot set termios, so turn echo off from inside the pty and exec
    // the real program: it keeps the pid (and so the process group we signal).
    argv = ['/bin/sh', '-c', 'stty -echo 2>/dev/null; exec "$@"', 'tshpool-noecho', ...argv];
  }
  return { file: argv[0]!, args: argv.slice(1), env, cwd: opts.cwd, cmdline };
}
