/**
 * Helpers for the hook tests: sandboxes that run the recording wrapper
 * (recording-wrapper.mjs) instead of bin/tshpool, reading its record file, the
 * daemon log and `status --json`, raw protocol clients and `tshpool events` readers.
 *
 *   const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_THROW: 'onNewSession' } });
 *   await sb.runOk(['attach', '-b', 'x']);
 *   const recs = await waitForRecords(sb, (r) => r.length >= 2);
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '../../dist/protocol/messages.js';
import { FRAME, ROOT, decodeFrames, encodeFrame, makeSandbox, waitUntil } from './sandbox.mjs';
import { attachRequest as baseAttachRequest } from './requests.mjs';

export const RECORDING_WRAPPER = join(ROOT, 'test', 'support', 'recording-wrapper.mjs');
export const EXAMPLES = join(ROOT, 'examples');
export { DETACH } from './sandbox.mjs';

/**
 * Starts sb's daemon (with sb's current config and environment) by running
 * `list`, so that a test's timings measure its sessions, not the daemon's start.
 */
export async function ensureDaemon(sb) {
  await sb.runOk(['list', '--json']);
}

/**
 * A sandbox whose bin is the recording wrapper (or opts.bin); its hooks append to
 * sb.recordFile. opts.env: extra environment (TSHPOOL_TEST_* misbehaviours);
 * opts.config: TOML appended to the base config. The daemon is started (ensureDaemon)
 * unless opts.start === false.
 */
export async function makeHookSandbox(t, opts = {}) {
  const sb = await makeSandbox(t, { bin: opts.bin ?? RECORDING_WRAPPER, config: opts.config ?? '', env: opts.env ?? {}, nodeArgs: opts.nodeArgs ?? [] });
  sb.recordFile = sb.path('record.jsonl');
  sb.env.TSHPOOL_TEST_RECORD = sb.recordFile;
  sb.env.TSHPOOL_TEST_ONCE_FILE = sb.path('misbehaved-once');
  if (opts.start !== false) await ensureDaemon(sb);
  return sb;
}

/** The records so far (one object per hook call), [] before the first. */
export function readRecords(sbOrFile) {
  const file = typeof sbOrFile === 'string' ? sbOrFile : sbOrFile.recordFile;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Waits until pred(records) (or records.length >= n) holds; returns the records. */
export async function waitForRecords(sbOrFile, predOrCount, { timeout = 10_000, message } = {}) {
  const pred = typeof predOrCount === 'number' ? (r) => r.length >= predOrCount : predOrCount;
  let last = [];
  try {
    return await waitUntil(
      () => {
        last = readRecords(sbOrFile);
        return pred(last) ? last : null;
      },
      { timeout, interval: 20, message: message ?? `hook records (${predOrCount})` },
    );
  } catch (err) {
    err.message += `; records: ${JSON.stringify(last.map((r) => [r.hook, r.name, r.event?.reason]))}`;
    throw err;
  }
}

/** Records of the specific hooks only (no onEvent, no `done` marks). */
export function specific(records) {
  return records.filter((r) => r.hook !== 'onEvent' && !r.done && !r.spun);
}

/**
 * Asserts that the records are exactly pairs: each specific hook call followed by
 * onEvent with the same event (onEvent is called after the specific method).
 */
export function assertPaired(records) {
  const calls = records.filter((r) => !r.done && !r.spun);
  for (let i = 0; i < calls.length; i++) {
    const a = calls[i];
    if (a.hook === 'onEvent') {
      // Only an attach that created its session has no specific hook (onNewSession ran for session.created).
      assert.ok(a.event.type === 'session.attached' && a.event.created === true, `call ${i}: onEvent for ${a.event.type} without its specific hook`);
      continue;
    }
    const b = calls[++i];
    assert.equal(b?.hook, 'onEvent', `call ${i} should be onEvent after ${a.hook}, got ${b?.hook}`);
    assert.deepEqual(b.event, a.event, 'onEvent gets the same event as the specific hook');
    assert.equal(b.name, a.name);
  }
}

/** Records without the onEvent-only calls of attaches that created their session. */
export function withoutCreatedAttach(records) {
  return records.filter((r) => !(r.event?.type === 'session.attached' && r.event.created));
}

/** The daemon log's text ('' before it exists). */
export function readLog(sb) {
  return existsSync(sb.logPath) ? readFileSync(sb.logPath, 'utf8') : '';
}

/** Waits until the daemon log matches `re`; returns the match. */
export async function waitForLog(sb, re, { timeout = 10_000 } = {}) {
  try {
    return await waitUntil(() => re.exec(readLog(sb)), { timeout, interval: 25, message: `daemon log to match ${re}` });
  } catch (err) {
    err.message += `; log tail: ${JSON.stringify(readLog(sb).slice(-2000))}`;
    throw err;
  }
}

/** `status --json`, parsed. */
export async function daemonStatus(sb) {
  const r = await sb.runOk(['status', '--json']);
  return JSON.parse(r.stdout);
}

/** Waits until `status --json` satisfies pred; returns the status. */
export async function waitForStatus(sb, pred, { timeout = 10_000, message = 'status --json to match' } = {}) {
  let last;
  try {
    return await waitUntil(
      async () => {
        last = await daemonStatus(sb);
        return pred(last) ? last : null;
      },
      { timeout, interval: 50, message },
    );
  } catch (err) {
    err.message += `; last status hooks: ${JSON.stringify(last?.hooks)} inFlight ${last?.hooksInFlight}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Raw protocol

/**
 * A raw protocol client on one socket connection (node:net directly): hello, then
 * requests, and control messages as a queue (next()) — suited to long event streams.
 */
export class ProtocolClient {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.messages = [];
    this.waiters = [];
    this.closed = false;
    sock.on('data', (chunk) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (const f of decodeFrames(this.buf)) if (f.kind === FRAME.CONTROL) this.messages.push(f.message);
      this.buf = this.buf.subarray(consumedBytes(this.buf));
      this._wake();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      this._wake();
    });
  }

  _wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Connects to sb's daemon and exchanges hellos; the socket is destroyed at sb's cleanup. */
  static async open(sb) {
    const sock = await new Promise((resolve, reject) => {
      const s = createConnection(sb.socketPath);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    if (Array.isArray(sb.sockets)) sb.sockets.push(sock);
    const c = new ProtocolClient(sock);
    c.send({ type: 'hello', protocol: PROTOCOL_VERSION, version: 'x' });
    const hello = await c.next();
    assert.equal(hello.type, 'hello', JSON.stringify(hello));
    return c;
  }

  send(msg) {
    this.sock.write(encodeFrame(FRAME.CONTROL, msg));
  }

  /** The next control message (rejects when the connection closes first or after timeout). */
  async next(timeout = 10_000) {
    const deadline = Date.now() + timeout;
    while (this.messages.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no reply in time');
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
    return this.messages.shift();
  }

  close() {
    this.sock.destroy();
  }
}

/**
 * Connects to `path` again and again from before anything listens there until
 * `windowMs` after the first connect succeeded (several attempts in flight at
 * once, one event-loop turn apart), so that connections land at every moment of
 * a daemon's start-up. Resolves to the connected sockets (at most `max`).
 */
export async function connectThroughStartup(path, { windowMs = 100, max = 200, timeout = 10_000, parallel = 4 } = {}) {
  const sockets = [];
  const deadline = Date.now() + timeout;
  let firstAt = null;
  const done = () => sockets.length >= max || (firstAt !== null && Date.now() > firstAt + windowMs) || Date.now() > deadline;
  const spin = async () => {
    while (!done()) {
      const sock = await new Promise((resolve) => {
        const s = createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(null));
      });
      if (sock) {
        firstAt ??= Date.now();
        sockets.push(sock);
      }
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all(Array.from({ length: parallel }, spin));
  if (sockets.length === 0) throw new Error(`nothing listened on ${path} within ${timeout} ms`);
  return sockets;
}

/** Bytes taken by the complete frames at the start of buf. */
function consumedBytes(buf) {
  let off = 0;
  while (buf.length - off >= 5) {
    const len = buf.readUInt32BE(off + 1);
    if (buf.length - off - 5 < len) break;
    off += 5 + len;
  }
  return off;
}

/** An attach request as the real client sends it. */
export function attachRequest(name, extra = {}) {
  return baseAttachRequest({ name, background: false, env: { TERM: 'xterm-256color' }, ...extra });
}

// ---------------------------------------------------------------------------
// `tshpool events` as a child process

/** Runs `tshpool events ...args` with piped stdout and collects its JSON lines. */
export function startEvents(sb, args = []) {
  const child = sb.spawnChild(['events', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reader = { child, events: [], stderr: '', exit: null };
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const l of lines) if (l.trim()) reader.events.push(JSON.parse(l));
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (reader.stderr += d));
  child.on('exit', (code, signal) => (reader.exit = { code, signal }));
  /** Waits until pred(events) holds; returns the events. */
  reader.waitFor = async (pred, { timeout = 10_000, message = 'events' } = {}) => {
    const p = typeof pred === 'number' ? (e) => e.length >= pred : pred;
    try {
      return await waitUntil(() => (p(reader.events) ? reader.events : null), { timeout, interval: 20, message });
    } catch (err) {
      err.message += `; events: ${JSON.stringify(reader.events.map((e) => [e.type, e.session, e.reason]))} stderr ${JSON.stringify(reader.stderr)}`;
      throw err;
    }
  };
  return reader;
}
