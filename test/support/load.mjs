/**
 * Helpers for load, fault and fuzz tests of the daemon (test/e2e/fuzz|faults|soak,
 * scripts/soak.mjs): a seeded PRNG, /proc readings of a process (RSS, fds by kind,
 * CPU time), a light raw protocol client that decodes frames incrementally and
 * only counts terminal data (so a flood costs the test little), and small stats.
 *
 * Run as a program, this file is a tshpool wrapper (`import { run } from 'tshpool'`)
 * whose hooks misbehave on purpose, for soak runs:
 *
 *   node test/support/load.mjs attach main      # like bin/tshpool, hooks below
 *
 *   onNewSession       throws synchronously
 *   onReattach         returns a promise that never settles (the hook timeout ends it)
 *   onBusy             rejects
 *   onClientDisconnect spawns a slow command (`sleep 1.5`) and waits for it
 *                      (past a 1 s hook timeout); at most 16 at once, else it hangs
 *   onShellDisconnect  resolves after 300 ms
 *   onEvent            counts; every 50th call throws
 *
 * With TSHPOOL_LOAD_STATS=<file> and daemon-stats-preload.mjs preloaded (NODE_OPTIONS=--import=…;
 * the daemon is tshpool's own program, not this wrapper), the daemon also reports from the inside,
 * for the soak: every second it rewrites <file> with the daemon's event-loop delay
 * (how late a 10 ms timer fires, per one-second window: p50/p99/max ms) and memory (rss, V8 heap used/total,
 * external, array buffers; MiB). SIGUSR2 runs a full garbage collection and then
 * writes the file at once (`gcAt` tells when), so memory can be compared at rest.
 *
 * It imports only node builtins (and 'tshpool' when run as a program), so the
 * wrapper starts as fast as bin/tshpool.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import { FRAME as KIND, encodeFrame as frame } from './requests.mjs';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_VERSION } from '../../dist/protocol/messages.js';

// ---------------------------------------------------------------------------
// Seeded randomness: failures must reproduce from the printed seed.

/** mulberry32: a small, fast, good-enough PRNG; `seed` is a 32-bit integer. */
export function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = {
    seed: seed >>> 0,
    next,
    /** An integer in [lo, hi] (both included). */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** `n` random bytes. */
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
    /** A weighted choice: `table` is [[weight, value], ...]. */
    weighted: (table) => {
      const total = table.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, v] of table) {
        if ((r -= w) < 0) return v;
      }
      return table[table.length - 1][1];
    },
  };
  return rng;
}

/** A fresh 31-bit seed (for when none is given). */
export function randomSeed() {
  return Math.floor(Math.random() * 2 ** 31);
}

// ---------------------------------------------------------------------------
// /proc readings

/** Resident memory of `pid` in MiB (VmRSS), or null when it is gone. */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * The open fds of `pid` by kind: { total, socket, pipe, ptmx, anon, file, other }.
 * `ptmx` are pty masters (one per live session), `socket` client connections plus
 * the listening socket.
 */
export function fdInfo(pid) {
  const out = { total: 0, socket: 0, pipe: 0, ptmx: 0, anon: 0, file: 0, other: 0 };
  let entries;
  try {
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  for (const fd of entries) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    out.total++;
    if (target.startsWith('socket:')) out.socket++;
    else if (target.startsWith('pipe:')) out.pipe++;
    else if (target === '/dev/ptmx' || target.startsWith('/dev/pts/ptmx')) out.ptmx++;
    else if (target.startsWith('anon_inode:')) out.anon++;
    else if (target.startsWith('/')) out.file++;
    else out.other++;
  }
  return out;
}

/** The number of open fds of `pid`, or null. */
export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** CPU time (user + system) of `pid` in clock ticks (1/100 s), or null. */
export function cpuTicks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/**
 * The scheduler's view of `pid`'s main thread (/proc/PID/schedstat), in seconds:
 * { cpu, runqueueWait } — time on a CPU, and time runnable but waiting for one.
 * A large wait means a busy machine, not a slow process. Null when unavailable.
 */
export function schedStat(pid) {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { cpu: cpu / 1e9, runqueueWait: wait / 1e9 };
  } catch {
    return null;
  }
}

/** The p-th percentile (0..100) of `values` (nearest rank), or null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const round1 = (x) => (x === null || x === undefined ? x : Math.round(x * 10) / 10);

// ---------------------------------------------------------------------------
// The wire protocol, raw

export { KIND, frame };
export { PROTOCOL_VERSION as PROTOCOL };

export const control = (message) => frame(KIND.CONTROL, message);
export const helloFrame = (version = '0.0.0-test') => control({ type: 'hello', protocol: PROTOCOL_VERSION, version });

export { attachRequest } from './requests.mjs';

/**
 * A light client for one connection: control replies are decoded and queued,
 * terminal data is only counted (the last `keepTail` bytes are kept, for checks).
 */
export class LiteClient {
  /** Connects to `path`; rejects on error or after `timeout` ms. */
  static connect(path, { timeout = 5000, keepTail = 0, allowHalfOpen = false } = {}) {
    return new Promise((resolvePromise, reject) => {
      const socket = createConnection({ path, allowHalfOpen });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${path}: no connection within ${timeout} ms`));
      }, timeout);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolvePromise(new LiteClient(socket, keepTail));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  constructor(socket, keepTail = 0) {
    this.socket = socket;
    this.started = Date.now();
    /** Control messages not yet taken by next(). */
    this.queue = [];
    /** Every control message received, in order. */
    this.messages = [];
    this.dataBytes = 0;
    this.keepTail = keepTail;
    this.tail = Buffer.alloc(0);
    this.closedAfterMs = null;
    this.error = null;
    /** Set when the daemon sent bytes that are not valid frames. */
    this.decodeError = null;
    this._buf = Buffer.alloc(0);
    this._waiters = [];
    this._closeWaiters = [];
    socket.on('data', (d) => this._onData(d));
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => {
      this.closedAfterMs = Date.now() - this.started;
      for (const w of this._waiters.splice(0)) w.reject(new Error(`connection closed; messages so far: ${JSON.stringify(this.messages).slice(0, 500)}`));
      for (const w of this._closeWaiters.splice(0)) w(this.closedAfterMs);
    });
  }

  get closed() {
    return this.closedAfterMs !== null;
  }

  _onData(chunk) {
    this._buf = this._buf.length ? Buffer.concat([this._buf, chunk]) : chunk;
    let off = 0;
    while (this._buf.length - off >= 5) {
      const kind = this._buf.readUInt8(off);
      const len = this._buf.readUInt32BE(off + 1);
      if (kind !== KIND.CONTROL && kind !== KIND.DATA) {
        this.decodeError = `unknown frame kind ${kind} from the daemon`;
        this.socket.destroy();
        return;
      }
      if (this._buf.length - off - 5 < len) break;
      const body = this._buf.subarray(off + 5, off + 5 + len);
      off += 5 + len;
      if (kind === KIND.DATA) {
        this.dataBytes += body.length;
        if (this.keepTail > 0) {
          const t = Buffer.concat([this.tail, body]);
          this.tail = t.length > this.keepTail ? Buffer.from(t.subarray(t.length - this.keepTail)) : t;
        }
        continue;
      }
      let msg;
      try {
        msg = JSON.parse(body.toString('utf8'));
      } catch (err) {
        this.decodeError = `invalid JSON from the daemon: ${err.message}`;
        this.socket.destroy();
        return;
      }
      this.messages.push(msg);
      const w = this._waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    }
    this._buf = off === this._buf.length ? Buffer.alloc(0) : this._buf.subarray(off);
  }

  /** Writes raw bytes; false when the connection is gone. */
  write(bytes) {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(bytes);
    return true;
  }

  send(message) {
    return this.write(control(message));
  }

  hello() {
    return this.write(helloFrame());
  }

  /** The next control message; rejects when the connection closes first or after `timeout` ms. */
  next(timeout = 5000) {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error(`connection closed; messages so far: ${JSON.stringify(this.messages).slice(0, 500)}`));
    return new Promise((resolvePromise, reject) => {
      const w = {
        resolve: (m) => {
          clearTimeout(timer);
          resolvePromise(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this._waiters.indexOf(w);
        if (i >= 0) this._waiters.splice(i, 1);
        reject(new Error(`no control message within ${timeout} ms; messages so far: ${JSON.stringify(this.messages).slice(0, 500)}`));
      }, timeout);
      this._waiters.push(w);
    });
  }

  /** Resolves to ms from connect to close; rejects after `timeout` ms. */
  waitClose(timeout = 5000) {
    if (this.closed) return Promise.resolve(this.closedAfterMs);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeout} ms`)), timeout);
      this._closeWaiters.push((ms) => {
        clearTimeout(timer);
        resolvePromise(ms);
      });
    });
  }

  /** Resolves true when closed within `ms`, false otherwise (never rejects). */
  closesWithin(ms) {
    return this.waitClose(ms).then(
      () => true,
      () => false,
    );
  }

  destroy() {
    this.socket.destroy();
  }
}

/**
 * One request on a fresh connection: hello, `request`, the reply. Resolves to
 * { reply, ms } (ms from before connecting to the reply); the connection is closed.
 */
export async function rawRequest(path, request, { timeout = 5000 } = {}) {
  const t0 = performance.now();
  const c = await LiteClient.connect(path, { timeout });
  try {
    c.write(Buffer.concat([helloFrame(), control(request)]));
    const hello = await c.next(timeout);
    if (hello.type !== 'hello') return { reply: hello, ms: performance.now() - t0 };
    const reply = await c.next(timeout);
    return { reply, ms: performance.now() - t0 };
  } finally {
    c.destroy();
  }
}

/** Runs `fn(i)` for i in [0, count) with at most `concurrency` at once; resolves to the results. */
export async function pool(count, concurrency, fn) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

// ---------------------------------------------------------------------------
// Run as a program: a tshpool wrapper with misbehaving hooks (see the top comment).

const SLOW_CHILDREN_MAX = 16;

function misbehavingHooks() {
  let slowChildren = 0;
  let events = 0;
  return {
    onNewSession() {
      throw new Error('load wrapper: onNewSession throws on purpose');
    },
    onReattach() {
      return new Promise(() => undefined);
    },
    onBusy() {
      return Promise.reject(new Error('load wrapper: onBusy rejects on purpose'));
    },
    onClientDisconnect() {
      if (slowChildren >= SLOW_CHILDREN_MAX) return new Promise(() => undefined);
      slowChildren++;
      return new Promise((resolvePromise) => {
        const child = spawn('sleep', ['1.5'], { stdio: 'ignore' });
        const done = () => {
          slowChildren--;
          resolvePromise();
        };
        child.once('exit', done);
        child.once('error', done);
      });
    },
    onShellDisconnect() {
      return new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    },
    onEvent() {
      if (++events % 50 === 0) throw new Error('load wrapper: every 50th onEvent throws');
    },
  };
}

/** Readers of the TSHPOOL_LOAD_STATS file: the last `stats` written, or null. */
export function readDaemonStats(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Inside the daemon: the TSHPOOL_LOAD_STATS reporter (see the top comment). */
export function reportDaemonStats(file) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const MiB = 2 ** 20;
  const windows = [];
  let gcAt = null;
  let histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let writing = false;
  const write = async () => {
    if (writing) return;
    writing = true;
    const m = process.memoryUsage();
    const stats = {
      pid: process.pid,
      at: Date.now(),
      gcAt,
      memory: { rss: m.rss / MiB, heapUsed: m.heapUsed / MiB, heapTotal: m.heapTotal / MiB, external: m.external / MiB, arrayBuffers: m.arrayBuffers / MiB },
      windows,
    };
    try {
      await writeFile(`${file}.tmp`, JSON.stringify(stats));
      await rename(`${file}.tmp`, file);
    } catch {
      // the soak reads what it can
    } finally {
      writing = false;
    }
  };
  const tick = setInterval(() => {
    // The histogram records whole timer intervals: minus the 10 ms resolution, the lateness.
    const late = (ns) => Math.max(0, ns / 1e6 - 10);
    windows.push({ at: Date.now(), p50: late(histogram.percentile(50)), p99: late(histogram.percentile(99)), max: late(histogram.max) });
    if (windows.length > 3600) windows.shift();
    histogram.disable();
    histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    void write();
  }, 1000);
  tick.unref();
  process.on('SIGUSR2', () => {
    gc();
    gc();
    gcAt = Date.now();
    void write();
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { run } = await import('tshpool');
  process.exitCode = await run(process.argv.slice(2), misbehavingHooks());
}
