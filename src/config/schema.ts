/**
 * The configuration keys, their types and defaults. A new key is one entry in
 * KEYS plus one field in Config; the loader (load.ts) does the rest.
 */
import { DEFAULT_FORWARD_ENV } from '../consts.js';
import { HOOK_COMMAND_NAMES, type HookCommandName } from '../protocol/events.js';
import { parseDuration } from '../util/duration.js';
import { parseBinding } from '../util/keys.js';
import type { Keybinding } from '../util/keybindings.js';
import { splitShellWords } from '../util/shell-words.js';

export type { Keybinding, KeybindingAction } from '../util/keybindings.js';

/** The hook names usable in `[hooks]` and `attach --hook NAME=CMD`, from the events table. */
export { HOOK_COMMAND_NAMES, type HookCommandName } from '../protocol/events.js';

export interface HooksConfig {
  /** Command lines to run per hook (split into words when run; no shell). */
  commands: Partial<Record<HookCommandName, string[]>>;
  /** How long a hook (a wrapper's async hook or a command) may take before it is logged as timed out (and a command killed). */
  timeoutMs: number;
  /** How long a decision (onBeforeCreate / onBeforeAttach, before_* commands) may take: the user waits for it. */
  decisionTimeoutMs: number;
  /** What a decision that failed, timed out or could not be asked means: go on, or refuse. */
  decisionFailure: 'continue' | 'reject';
  /** The hook host's V8 heap limit (--max-old-space-size), so a hook that hoards memory ends in a restart, not a swapping machine. */
  hostHeapLimitMb: number;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
/** A decision is on the user's path (attach waits for it): 2 s, then decision_failure applies. */
export const DEFAULT_DECISION_TIMEOUT_MS = 2000;
export const DEFAULT_HOST_HEAP_LIMIT_MB = 1024;

export interface Config {
  /** Shell to run; null = the user's login shell. */
  shell: string | null;
  /** Start shells without rc files (bash --norc --noprofile, zsh -f, fish --no-config). */
  norc: boolean;
  /** Turn off the pty's echo before the shell starts. */
  noecho: boolean;
  /** Extra environment for new sessions; an empty value removes the variable. */
  env: Record<string, string>;
  /** Variables copied from the creating client, in addition to the defaults. */
  forward_env: string[];
  /** PATH for new sessions; null = the daemon's PATH. */
  initial_path: string | null;
  /** Where new sessions start when --dir is not given; null = $HOME. `.` = the client's cwd. */
  default_dir: string | null;
  /** Never start a daemon automatically. */
  nodaemonize: boolean;
  /** Replaces the default detach binding when given. */
  keybinding: Keybinding[];
  /** `[hooks]`: commands run on session events, and the hook timeout. */
  hooks: HooksConfig;
  /** What a reattaching client sees first: the whole screen, the last N lines, or nothing. */
  session_restore_mode: RestoreMode;
  /** Scrollback lines the screen emulator keeps per session. */
  output_spool_lines: number;
  /** Prefix for bash/zsh/fish prompts; `$TSHPOOL_SESSION_NAME` is replaced by the name; "" disables. */
  prompt_prefix: string;
  /** Do not point the shell's SSH_AUTH_SOCK at a per-session symlink. */
  nosymlink_ssh_auth_sock: boolean;
  /**
   * Let the daemon drive an attaching terminal itself (as tmux does) instead of relaying
   * through the client; false makes the client relay every byte.
   */
  terminal_handoff: boolean;
  /** Detached sessions that flood output take turns (src/daemon/detached-turns.ts); false reads them all at full speed. */
  detached_flood_turns: boolean;
}

export type RestoreMode = 'screen' | 'simple' | { lines: number };

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  shell: null,
  norc: false,
  noecho: false,
  env: {},
  forward_env: [],
  initial_path: null,
  default_dir: null,
  nodaemonize: false,
  keybinding: [],
  hooks: {
    commands: {},
    timeoutMs: DEFAULT_HOOK_TIMEOUT_MS,
    decisionTimeoutMs: DEFAULT_DECISION_TIMEOUT_MS,
    decisionFailure: 'continue' as const,
    hostHeapLimitMb: DEFAULT_HOST_HEAP_LIMIT_MB,
  },
  session_restore_mode: 'screen',
  output_spool_lines: 1000,
  prompt_prefix: 'tshpool:$TSHPOOL_SESSION_NAME ',
  nosymlink_ssh_auth_sock: false,
  terminal_handoff: true,
  detached_flood_turns: true,
});

/** A checker turns a raw TOML value into the typed value, or throws a TypeProblem naming the sub-key. */
export class TypeProblem extends Error {
  constructor(
    message: string,
    /** Path below the top-level key, e.g. ['0', 'action'] for keybinding[0].action. */
    readonly subPath: string[] = [],
  ) {
    super(message);
  }
}

type Checker<T> = (value: unknown) => T;

const describe = (v: unknown): string => (Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'a table' : `${typeof v} ${JSON.stringify(v)}`);

const string: Checker<string> = (v) => {
  if (typeof v !== 'string') throw new TypeProblem(`expected a string, got ${describe(v)}`);
  return v;
};
const boolean: Checker<boolean> = (v) => {
  if (typeof v !== 'boolean') throw new TypeProblem(`expected true or false, got ${describe(v)}`);
  return v;
};
const stringArray: Checker<string[]> = (v) => {
  if (!Array.isArray(v)) throw new TypeProblem(`expected an array of strings, got ${describe(v)}`);
  v.forEach((x, i) => {
    if (typeof x !== 'string') throw new TypeProblem(`expected a string, got ${describe(x)}`, [String(i)]);
  });
  return v as string[];
};
const stringTable: Checker<Record<string, string>> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeProblem(`expected a table, got ${describe(v)}`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new TypeProblem(`expected a string, got ${describe(x)}`, [k]);
  }
  // smol-toml gives null-prototype objects; hand out plain ones.
  return { ...(v as Record<string, string>) };
};

const keybindings: Checker<Keybinding[]> = (v) => {
  if (!Array.isArray(v)) throw new TypeProblem('expected [[keybinding]] tables');
  return v.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new TypeProblem(`expected a table, got ${describe(entry)}`, [String(i)]);
    const e = entry as Record<string, unknown>;
    if (typeof e.binding !== 'string') throw new TypeProblem(`expected a string, got ${describe(e.binding)}`, [String(i), 'binding']);
    try {
      parseBinding(e.binding);
    } catch (err) {
      throw new TypeProblem((err as Error).message, [String(i), 'binding']);
    }
    if (e.action !== 'detach' && e.action !== 'noop') {
      throw new TypeProblem(`expected "detach" or "noop", got ${describe(e.action)}`, [String(i), 'action']);
    }
    return { binding: e.binding, action: e.action };
  });
};

/** Checks one command line (a string split into words like a shell would); returns the line. */
export function checkCommandLine(line: string): string {
  let words: string[];
  try {
    words = splitShellWords(line);
  } catch (err) {
    throw new TypeProblem(`cannot split the command: ${(err as Error).message}`);
  }
  if (words.length === 0) throw new TypeProblem('the command is empty');
  return line;
}

const hooks: Checker<HooksConfig> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeProblem(`expected a [hooks] table, got ${describe(v)}`);
  const out: HooksConfig = { ...DEFAULT_CONFIG.hooks, commands: {} };
  const duration = (k: string, x: unknown): number => {
    const ms = typeof x === 'string' ? parseDuration(x) : null;
    if (ms === null) throw new TypeProblem(`expected a duration like "30s", got ${describe(x)}`, [k]);
    return ms;
  };
  for (const [k, x] of Object.entries(v)) {
    if (k === 'timeout') out.timeoutMs = duration(k, x);
    else if (k === 'decision_timeout') out.decisionTimeoutMs = duration(k, x);
    else if (k === 'decision_failure') {
      if (x !== 'continue' && x !== 'reject') throw new TypeProblem(`expected "continue" or "reject", got ${describe(x)}`, [k]);
      out.decisionFailure = x;
    } else if (k === 'host_heap_limit_mb') {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 16) throw new TypeProblem(`expected a whole number of MiB (at least 16), got ${describe(x)}`, [k]);
      out.hostHeapLimitMb = x;
    } else if ((HOOK_COMMAND_NAMES as readonly string[]).includes(k)) {
      const lines = typeof x === 'string' ? [x] : x;
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) {
        throw new TypeProblem(`expected an array of command strings, got ${describe(x)}`, [k]);
      }
      try {
        out.commands[k as HookCommandName] = lines.map(checkCommandLine);
      } catch (err) {
        throw new TypeProblem((err as Error).message, [k]);
      }
    } else {
      throw new TypeProblem(`unknown hook '${k}' (use ${HOOK_COMMAND_NAMES.join(', ')}, timeout, decision_timeout, decision_failure or host_heap_limit_mb)`, [k]);
    }
  }
  return out;
};

const MAX_SPOOL_LINES = 100_000;

const restoreMode: Checker<RestoreMode> = (v) => {
  if (v === 'screen' || v === 'simple') return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const lines = (v as Record<string, unknown>).lines;
    if (typeof lines === 'number' && Number.isInteger(lines) && lines >= 1 && lines <= MAX_SPOOL_LINES) return { lines };
    throw new TypeProblem(`expected lines = a whole number from 1 to ${MAX_SPOOL_LINES}, got ${describe(lines)}`, ['lines']);
  }
  throw new TypeProblem(`expected "screen", "simple" or { lines = N }, got ${describe(v)}`);
};

const spoolLines: Checker<number> = (v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SPOOL_LINES) {
    throw new TypeProblem(`expected a whole number from 0 to ${MAX_SPOOL_LINES}, got ${describe(v)}`);
  }
  return v;
};

/** Every known top-level key with its checker. */
export const KEYS: { [K in keyof Config]: Checker<Config[K]> } = {
  shell: string,
  norc: boolean,
  noecho: boolean,
  env: stringTable,
  forward_env: stringArray,
  initial_path: string,
  default_dir: string,
  nodaemonize: boolean,
  keybinding: keybindings,
  hooks,
  session_restore_mode: restoreMode,
  output_spool_lines: spoolLines,
  prompt_prefix: string,
  nosymlink_ssh_auth_sock: boolean,
  terminal_handoff: boolean,
  detached_flood_turns: boolean,
};

/** The variables a client forwards to new sessions: the defaults plus forward_env. */
export function forwardedNames(config: Config): string[] {
  return [...new Set([...DEFAULT_FORWARD_ENV, ...config.forward_env])];
}
