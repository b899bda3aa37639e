/**
 * Keeping the user's terminal safe from blessed (0.1.81, unmaintained since 2015):
 * choosing a terminal description it can read, keeping its stray console output
 * and listeners from outliving the picker, and leaving the terminal cooked, with
 * its cursor visible and the normal screen back, on every way out.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Terminal descriptions blessed ships in its `usr/` folder and falls back on. */
const BUNDLED_TERMINALS = new Set(['xterm', 'xterm-256color', 'linux', 'windows-ansi']);
/** The magic number of the legacy terminfo format, the only one blessed parses (ncurses 6.1+ also writes 0o1036). */
const LEGACY_TERMINFO_MAGIC = 0o432;

/** Where terminfo entries live, in the order ncurses (and blessed) search them. */
function terminfoDirs(env: NodeJS.ProcessEnv): string[] {
  return [
    env.TERMINFO ?? '',
    ...(env.TERMINFO_DIRS ?? '').split(':'),
    join(env.HOME ?? homedir(), '.terminfo'),
    '/etc/terminfo',
    '/lib/terminfo',
    '/usr/share/terminfo',
    '/usr/share/lib/terminfo',
    '/usr/lib/terminfo',
    '/usr/local/share/terminfo',
    '/usr/local/lib/terminfo',
  ].filter((d) => d !== '');
}

/** The first two bytes (little-endian) of `term`'s compiled entry, or null when there is none. */
function terminfoMagic(term: string, env: NodeJS.ProcessEnv): number | null {
  const subdirs = [term[0]!, term.charCodeAt(0).toString(16)];
  for (const dir of terminfoDirs(env)) {
    for (const sub of subdirs) {
      let fd: number | null = null;
      try {
        fd = openSync(join(dir, sub, term), 'r');
        const head = Buffer.alloc(2);
        if (readSync(fd, head, 0, 2, 0) === 2) return head.readUInt16LE(0);
      } catch {
        // not there: try the next place
      } finally {
        if (fd !== null) closeSync(fd);
      }
    }
  }
  return null;
}

/**
 * The terminal name to give blessed for `TERM`. blessed reads only legacy-format
 * terminfo; for anything else (TERM unknown here, or compiled by a recent ncurses,
 * as xterm-256color, screen-256color and tmux-256color are on current Debian) it
 * falls back to plain 8-colour xterm after printing compile errors on stderr
 * ("Error on screen-256color.plab_norm"). We pick the fallback ourselves instead:
 * its bundled xterm-256color for 256-colour terminals, else xterm. The escape
 * sequences the picker needs are the same in xterm, screen and tmux.
 */
export function resolveTerminal(term: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const name = (term ?? '').toLowerCase();
  if (name === '' || name.includes('/')) return 'xterm';
  if (terminfoMagic(name, env) === LEGACY_TERMINFO_MAGIC || BUNDLED_TERMINALS.has(name)) return name;
  return /256|direct|truecolor/.test(name) || /truecolor|24bit/.test(env.COLORTERM ?? '') ? 'xterm-256color' : 'xterm';
}

/** Runs `fn` with console output discarded: blessed reports terminfo trouble with console.error. */
export function quietly<T>(fn: () => T): T {
  const saved = { error: console.error, warn: console.warn, log: console.log };
  const noop = (): void => undefined;
  console.error = noop;
  console.warn = noop;
  console.log = noop;
  try {
    return fn();
  } finally {
    Object.assign(console, saved);
  }
}

type Emitter = NodeJS.EventEmitter;
type Listener = (...args: unknown[]) => void;

/** Events whose listeners blessed adds (and not all of which it removes again). */
const WATCHED: ReadonlyArray<[() => Emitter, string[]]> = [
  [() => process.stdin, ['data', 'keypress', 'newListener', 'end', 'readable']],
  [() => process.stdout, ['resize']],
  [() => process, ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGCONT', 'exit', 'uncaughtException']],
];

/** Reset that is harmless when already in effect: default attributes, cursor visible. */
const RESET_ATTRIBUTES_AND_CURSOR = '\x1b[0m\x1b[?25h';
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/**
 * Owns the terminal-wide side effects of one picker: listeners blessed leaves
 * behind, stderr output while the screen is drawn, raw mode, and the final reset.
 * `release()` undoes all of it and is safe to call more than once and at exit.
 */
export class TerminalGuard {
  private readonly before = new Map<string, Set<Listener>>();
  private readonly stderrWrite = process.stderr.write;
  private readonly held: Array<string | Uint8Array> = [];
  private released = false;

  /**
   * @param onStderr called with each line written to stderr while the picker is up
   *   (the picker shows it instead of letting it tear through the screen).
   */
  constructor(onStderr: (line: string) => void) {
    WATCHED.forEach(([target, events]) => {
      for (const e of events) this.before.set(this.key(target(), e), new Set(target().listeners(e) as Listener[]));
    });
    // Anything printed on stderr now (a daemon-start notice, a Node warning) would
    // land in the middle of the drawing: hold it, show its gist, print it afterwards.
    const held = this.held;
    process.stderr.write = function (chunk: string | Uint8Array, ...rest: unknown[]): boolean {
      held.push(chunk);
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const line = text.trim().split('\n').pop();
      if (line) onStderr(line);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    } as typeof process.stderr.write;
  }

  private key(target: Emitter, event: string): string {
    const owner = target === process ? 'process' : target === process.stdin ? 'stdin' : 'stdout';
    return `${owner}:${event}`;
  }

  /**
   * Call after the widget library let go of the terminal. `usedAltScreen` false (a
   * terminal without one, like the Linux console) clears the screen instead, so the
   * picker's drawing does not stay behind. `terminalGone` (SIGHUP) skips writing.
   */
  release({ usedAltScreen, terminalGone }: { usedAltScreen: boolean; terminalGone: boolean }): void {
    if (this.released) return;
    this.released = true;
    for (const [target, events] of WATCHED) {
      for (const e of events) {
        const keep = this.before.get(this.key(target(), e)) ?? new Set();
        for (const l of target().listeners(e) as Listener[]) if (!keep.has(l)) target().removeListener(e, l);
      }
    }
    // blessed's keypress decoder marks stdin as set up; without it a later reader starts clean.
    delete (process.stdin as unknown as { _keypressDecoder?: unknown })._keypressDecoder;
    const stdin = process.stdin;
    if (terminalGone) {
      // Writes to a hung-up terminal fail with EIO, asynchronously: do not let that crash the exit.
      process.stdout.on('error', () => undefined);
    } else {
      try {
        if (stdin.isTTY) stdin.setRawMode(false);
        process.stdout.write((usedAltScreen ? '' : CLEAR_SCREEN) + RESET_ATTRIBUTES_AND_CURSOR);
      } catch {
        // the terminal may be gone already; nothing more to restore
      }
    }
    stdin.pause();
    process.stderr.write = this.stderrWrite;
    for (const chunk of this.held) process.stderr.write(chunk);
    this.held.length = 0;
  }
}
