/**
 * Small helpers shared by the benchmark: time, statistics, quoting, polling and
 * running a command with a deadline.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Milliseconds from a monotonic clock (sub-microsecond resolution). */
export const nowMs = () => performance.now();

/** The value at quantile q (0..1) of `values`, linear interpolation; null for none. */
export function quantile(values, q) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/** p50/p90/p99 of latency samples. */
export function percentiles(samples) {
  return { p50: quantile(samples, 0.5), p90: quantile(samples, 0.9), p99: quantile(samples, 0.99) };
}

/** Quotes one word for sh. */
export function shQuote(word) {
  return /^[A-Za-z0-9_\/.,:=+@%-]+$/.test(word) ? word : `'${String(word).replace(/'/g, `'\\''`)}'`;
}

export const shJoin = (argv) => argv.map(shQuote).join(' ');

/** A short random token of letters and digits. */
export const token = (n = 6) =>
  Array.from({ length: n }, () => 'abcdefghijkmnpqrstuvwxyz23456789'[Math.floor(Math.random() * 32)]).join('');

/** Full path of an executable on PATH, or null. */
export function which(name, path = process.env.PATH ?? '') {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    await sleep(intervalMs);
  }
}

/** Races `promise` against a deadline. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Runs a command without a terminal; resolves { code, signal, stdout, stderr, ms }.
 * `untilClose` false resolves on exit even if a forked daemon still holds the pipes
 * (tmux, screen and dtach fork servers that may inherit them).
 */
export function run(file, args, { env, cwd, timeoutMs = 15_000, untilClose = true, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(file, args, { env, cwd, stdio: ['ignore', untilClose ? 'pipe' : 'ignore', untilClose ? 'pipe' : 'ignore'] });
    onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${file} ${args.join(' ')}`));
    }, timeoutMs);
    const done = (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: nowMs() - t0 });
    };
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once(untilClose ? 'close' : 'exit', done);
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Rounds for display: 3 significant digits, no exponent. */
export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (typeof v !== 'number') return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}

export function log(msg) {
  process.stderr.write(`${msg}\n`);
}
