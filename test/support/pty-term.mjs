/**
 * PtyTerm: a real pseudo-terminal driving one program, for black-box tests.
 *
 *   const term = new PtyTerm(file, args, { env, cwd, cols, rows });
 *   term.write('echo A$((1+1))B\r');
 *   await term.waitFor('A2B');                  // string or RegExp, polled on output
 *   const m = term.mark();                      // remember "now" in the output ...
 *   await term.waitFor(/^40 100\r?$/m, { since: m }); // ... and only look after it
 *   term.resize(100, 40);                       // the program gets SIGWINCH
 *   await term.waitRawMode();                   // the program switched the terminal to raw mode
 *   const { exitCode, signal } = await term.waitExit();
 *   term.kill();                                // SIGHUP by default; idempotent
 *
 * Output is kept in full as text (`output`, UTF-8 decoded, escape sequences
 * included) and as raw bytes (`bytes`); `clean` is the same text with ANSI escape
 * sequences removed. Waiting never sleeps blindly: each wait re-checks its
 * condition whenever new output arrives (and on exit) and fails with a message
 * that shows the tail of the output when the time is up.
 *
 * Tip: match on something the shell computes, not on what you typed, since the
 * terminal echoes your input: type `echo A$((1+1))B` and wait for `A2B`.
 *
 * The driver keeps its own descriptor of the pty's slave side open while the
 * program runs (opts.holdSlave, default true): when the last slave descriptor
 * closes, Linux may discard output still in flight to the master, so the last
 * words of an exiting program (a notice, a final line) would sometimes be lost.
 * With it held, everything written before exit is read; the exit is reported
 * ~200 ms later (node-pty then gives up waiting for the hang-up).
 */
import pty from 'node-pty';
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { installExitDrain } from '../../dist/daemon/pty-exit-drain.js';

/** Removes CSI / OSC / other ESC sequences (enough for shells and tshpool's own output). */
export function stripAnsi(text) {
  return text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC ... BEL / ST
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b[PX^_][^\x1b]*\x1b\\/g, '') // DCS / SOS / PM / APC
    .replace(/\x1b[@-Z\\-_]|\x1b[()*+].|\x1b[=>78]/g, ''); // two/three-byte escapes
}

/** How far back each re-check looks before the newest chunk: matches may straddle chunks. */
const LOOKBACK_CHARS = 64 * 1024;

function tail(text, n = 1500) {
  const t = text.length > n ? `…${text.slice(-n)}` : text;
  return JSON.stringify(t);
}

export class PtyTerm {
  /**
   * @param {string} file program to run
   * @param {string[]} args
   * @param {{env?: object, cwd?: string, cols?: number, rows?: number, name?: string, label?: string}} [opts]
   */
  constructor(file, args, opts = {}) {
    this.label = opts.label ?? [file, ...args].join(' ');
    this.cols = opts.cols ?? 80;
    this.rows = opts.rows ?? 24;
    this._decoder = new StringDecoder('utf8');
    this._chunks = [];
    this._text = '';
    this._waiters = new Set();
    this.exit = null; // { exitCode, signal } once the program ended
    this._exitPromise = new Promise((resolve) => (this._resolveExit = resolve));
    this._pty = pty.spawn(file, args, {
      name: opts.name ?? opts.env?.TERM ?? 'xterm-256color',
      cols: this.cols,
      rows: this.rows,
      cwd: opts.cwd ?? process.cwd(),
      env: opts.env ?? process.env,
      encoding: null,
    });
    this.pid = this._pty.pid;
    // What the program printed just before exiting must all be read, also on a
    // loaded machine (node-pty alone gives it 200 ms): the daemon's own fix,
    // plus letting go of the held slave so the end of data shows as EIO.
    installExitDrain(this._pty, () => this.dispose());
    this._slaveFd = null;
    if (opts.holdSlave ?? true) {
      try {
        this._slaveFd = openSync(this._pty.ptsName, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
      } catch {
        // The program may be gone already; then there is nothing to protect.
      }
    }
    this._pty.onData((data) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
      const before = this._text.length;
      this._chunks.push(buf);
      this._text += this._decoder.write(buf);
      this._notify(before);
    });
    this._pty.onExit(({ exitCode, signal }) => {
      this.dispose();
      this.exit = { exitCode, signal: signal || 0 };
      this._resolveExit(this.exit);
      this._notify(0);
    });
  }

  /** The terminal's /dev/pts path (what the program has as its tty). */
  get ptsName() {
    return this._pty.ptsName;
  }

  /** Everything the program wrote so far, decoded as UTF-8. */
  get output() {
    return this._text;
  }

  /** `output` without ANSI escape sequences. */
  get clean() {
    return stripAnsi(this._text);
  }

  /** Everything the program wrote so far, as bytes. */
  get bytes() {
    return Buffer.concat(this._chunks);
  }

  /** Stops reading the terminal (as a stalled terminal or SSH window does): the writer blocks once the kernel buffer fills. */
  pause() {
    this._pty.pause();
  }

  resume() {
    this._pty.resume();
  }

  /** A position in `output`; pass it as `since` to wait only for output after now. */
  mark() {
    return this._text.length;
  }

  /** Types into the terminal (string or Buffer, sent as is: use '\r' for Enter). */
  write(data) {
    if (this.exit) throw new Error(`${this.label}: cannot write, the program already exited (${JSON.stringify(this.exit)})`);
    this._pty.write(data);
  }

  /** The pty's slave device (/dev/pts/N). */
  get ptsName() {
    return this._pty.ptsName;
  }

  /** The terminal's current settings as `stty -a` prints them. */
  termios() {
    return execFileSync('stty', ['-F', this.ptsName, '-a'], { encoding: 'utf8' });
  }

  /**
   * Waits until the program has put its terminal in raw mode (-icanon -echo), e.g.
   * before typing into an attach client whose output does not depend on input:
   * before that, the terminal would echo and line-buffer what the test types.
   */
  async waitRawMode(timeout = 10_000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.exit) throw new Error(`${this.label}: exited ${JSON.stringify(this.exit)} before entering raw mode; output: ${tail(this._text)}`);
      const t = this.termios();
      if (/(^|\s)-icanon(\s|$)/.test(t) && /(^|\s)-echo(\s|$)/.test(t)) return;
      if (Date.now() > deadline) throw new Error(`${this.label}: terminal not in raw mode after ${timeout} ms: ${t}`);
      await sleep(20);
    }
  }

  /** Changes the terminal size; the program receives SIGWINCH. */
  resize(cols, rows) {
    this.cols = cols;
    this.rows = rows;
    this._pty.resize(cols, rows);
  }

  /** Sends a signal to the program (default SIGHUP, like closing the terminal). Safe to call twice. */
  kill(signal = 'SIGHUP') {
    if (this.exit) return;
    try {
      this._pty.kill(signal);
    } catch {
      // already gone
    }
  }

  /** Releases the held slave descriptor (done on exit; call it when abandoning a PtyTerm). */
  dispose() {
    if (this._slaveFd === null) return;
    try {
      closeSync(this._slaveFd);
    } catch {
      // already closed
    }
    this._slaveFd = null;
  }

  _notify(changedFrom) {
    for (const w of [...this._waiters]) w(changedFrom);
  }

  /**
   * Waits until `pattern` (string or RegExp) appears in the output after `since`.
   * Resolves to the RegExp match (or a match-like array for strings).
   * Rejects on timeout, or when the program exits without producing it.
   * @param {string|RegExp} pattern
   * @param {{timeout?: number, since?: number, clean?: boolean}|number} [opts] or just the timeout in ms
   */
  waitFor(pattern, opts = {}) {
    if (typeof opts === 'number') opts = { timeout: opts };
    const { timeout = 10_000, since = 0, clean = false } = opts;
    const find = (from) => {
      const start = Math.max(since, from);
      let hay = this._text.slice(start);
      if (clean) hay = stripAnsi(hay);
      if (typeof pattern === 'string') {
        const i = hay.indexOf(pattern);
        if (i < 0) return null;
        const m = [pattern];
        m.index = i;
        return m;
      }
      const re = new RegExp(pattern.source, pattern.flags.replace('g', '').replace('y', ''));
      return re.exec(hay);
    };
    return new Promise((resolve, reject) => {
      const first = find(0);
      if (first) return resolve(first);
      const done = (fn, value) => {
        clearTimeout(timer);
        this._waiters.delete(check);
        fn(value);
      };
      const check = (changedFrom) => {
        const m = find(Math.max(0, changedFrom - LOOKBACK_CHARS));
        if (m) return done(resolve, m);
        if (this.exit) {
          // Exited: one last full look (output may have come with the exit), then give up.
          const last = find(0);
          if (last) return done(resolve, last);
          done(reject, new Error(`${this.label}: exited ${JSON.stringify(this.exit)} without printing ${pattern}; output since ${since}: ${tail(this._text.slice(since))}`));
        }
      };
      const timer = setTimeout(
        () => done(reject, new Error(`${this.label}: timed out after ${timeout} ms waiting for ${pattern}; output since ${since}: ${tail(this._text.slice(since))}`)),
        timeout,
      );
      this._waiters.add(check);
      if (this.exit) check(0);
    });
  }

  /** Resolves to { exitCode, signal } when the program ends; rejects after `timeout` ms. */
  waitExit(timeout = 10_000) {
    if (this.exit) return Promise.resolve(this.exit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.label}: still running after ${timeout} ms; output: ${tail(this._text)}`)),
        timeout,
      );
      this._exitPromise.then((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }
}
