/**
 * The terminal side of a measurement: a real pty (node-pty) driven the way a
 * terminal emulator drives it. Output is read continuously (unless paused) and
 * counted; waitFor() resolves when a byte string shows up in output that arrives
 * after the call, with the arrival time of the chunk that completed it.
 */
import pty from 'node-pty';
import { nowMs } from './util.mjs';

const RECENT_BYTES = 4096;

export class Term {
  /**
   * @param {string} file
   * @param {string[]} args
   * @param {{ env: Record<string,string>, cwd: string, cols?: number, rows?: number }} opts
   */
  constructor(file, args, { env, cwd, cols = 80, rows = 24 }) {
    this.command = [file, ...args].join(' ');
    this.startedAt = nowMs();
    this.p = pty.spawn(file, args, { name: 'xterm-256color', cols, rows, env, cwd, encoding: null });
    this.pid = this.p.pid;
    this.bytes = 0;
    this.recent = Buffer.alloc(0);
    this.waiters = new Set();
    this.exitInfo = null;
    this.exitWaiters = [];
    /** Optional per-chunk hook (latency probes). */
    this.onChunk = null;
    this.p.onData((d) => this.#onData(typeof d === 'string' ? Buffer.from(d, 'latin1') : d));
    this.p.onExit((e) => {
      this.exitInfo = e;
      for (const w of this.waiters) clearTimeout(w.timer);
      for (const w of this.waiters) w.reject(new Error(`${this.command} exited (code ${e.exitCode}, signal ${e.signal}) while waiting for ${JSON.stringify(w.needleText)}; last output: ${this.recentText()}`));
      this.waiters.clear();
      for (const r of this.exitWaiters.splice(0)) r(e);
    });
  }

  #onData(d) {
    const at = nowMs();
    this.bytes += d.length;
    this.recent = this.recent.length + d.length > RECENT_BYTES * 2 ? Buffer.concat([this.recent, d]).subarray(-RECENT_BYTES) : Buffer.concat([this.recent, d]);
    this.onChunk?.(d, at);
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) {
      const hay = w.carry.length ? Buffer.concat([w.carry, d]) : d;
      const idx = hay.indexOf(w.needle);
      if (idx >= 0) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        // Bytes received up to and including the needle.
        w.resolve({ at, bytes: this.bytes - (hay.length - idx - w.needle.length) });
      } else {
        const keep = Math.min(hay.length, w.needle.length - 1);
        w.carry = Buffer.from(hay.subarray(hay.length - keep));
      }
    }
  }

  /** Output so far (the last few KB) as printable text, for error messages. */
  recentText(n = 600) {
    return JSON.stringify(this.recent.subarray(-n).toString('latin1').replace(/\x1b\[[0-9;?>=]*[A-Za-z]/g, ''));
  }

  /** Resolves { at, bytes } once `needle` appears in output arriving from now on. */
  waitFor(needle, timeoutMs, what = needle) {
    return new Promise((resolve, reject) => {
      if (this.exitInfo) {
        reject(new Error(`${this.command} already exited while waiting for ${JSON.stringify(what)}; last output: ${this.recentText()}`));
        return;
      }
      const w = { needle: Buffer.from(needle, 'latin1'), needleText: what, carry: Buffer.alloc(0), resolve, reject, timer: null };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${JSON.stringify(what)} from \`${this.command}\`; last output: ${this.recentText()}`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  write(s) {
    if (!this.exitInfo) this.p.write(s);
  }

  /** Stops reading the pty (real back-pressure: the writer blocks once the kernel buffer fills). */
  pause() {
    this.p.pause();
  }

  resume() {
    this.p.resume();
  }

  get exited() {
    return this.exitInfo !== null;
  }

  waitExit(timeoutMs) {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.exitWaiters.push((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  /** Kills the process on the pty (SIGKILL by default) and waits a little for the exit. */
  async kill(signal = 'SIGKILL', timeoutMs = 2000) {
    if (this.exitInfo) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone
    }
    this.p.resume();
    await this.waitExit(timeoutMs);
  }

  /** Synchronous last-resort kill (exit handlers). */
  killNow() {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
