#!/usr/bin/env node
/**
 * Soak test of the tshpool daemon: many sessions, some flooding output, clients
 * attaching, detaching, hanging up, stalling, viewing, capturing, typing and
 * subscribing to events over the raw protocol for N seconds, with hooks that
 * throw, hang, reject and spawn slow commands. Then it checks:
 *
 *   - no crash: the same daemon pid is alive at the end;
 *   - no lost session: every session is listed at the end with its original shell pid;
 *   - no fd leak: the daemon's fds (by kind) return to their pre-churn count;
 *   - memory: daemon RSS at start (before churn), peak, and end (after churn, once
 *     settled) — the end must be near the start; both readings follow a full GC in
 *     the daemon, whose live JS heap must come back too (the leak detector: RSS also
 *     holds what V8 and malloc keep for reuse);
 *   - latency: `list` measured every 100 ms throughout (from another thread, on a
 *     fresh connection each time): p99 below a bound — judged only when the daemon
 *     had the CPU: if its main thread spent longer waiting for a CPU than running
 *     (/proc/PID/schedstat; a machine busy with other work), the latency is the
 *     scheduler's, and the summary says so instead (--strict-latency judges anyway);
 *   - every churn operation got the reply it should, in time.
 *
 * It stops by itself (hard deadline: --seconds + 180 s), kills everything it started
 * (a private sandbox: its own HOME, runtime dir and daemon), prints a JSON summary on
 * stdout and exits 1 when a criterion fails (2 on a usage error or a crash of the script).
 *
 *   node scripts/soak.mjs                                  # 60 s, 200 sessions, 20 flooding
 *   node scripts/soak.mjs --seconds 8 --sessions 40 --flooding 4
 *
 * Options: --seconds N (60), --sessions N (200), --flooding N (20), --churners N (8),
 * --seed N (random; printed), --flood seq|yes (seq: `while :; do seq 1 1000; done`),
 * --flood-nice N (10: the flood commands run under `nice -n N`, so that 20 CPU-bound
 * loops on a small machine do not take the daemon's CPU share and the latency measured
 * is the daemon's, not the scheduler's; the daemon still handles all their output;
 * 0 = same priority), --warmup N (seconds of churn before the baseline, so sessions
 * reach their working size first: default 20% of --seconds, 3..10),
 * --list-p99-ms N (100), --rss-growth-mb N (allowed end-minus-start RSS, 64),
 * --heap-growth-mb N (allowed end-minus-start live JS heap, 16), --strict-latency, --quiet (no progress on stderr).
 * The summary also has the daemon's event-loop delay during the churn (from inside the
 * daemon), which tells a slow daemon from a busy machine when list latency is high.
 *
 * The client is test/support/load.mjs run as a wrapper program (import { run } from
 * 'tshpool'; its hooks run in the daemon's hook host), with config `[hooks] on_client_disconnect = ["sleep 2"]`, `timeout = "1s"`.
 */
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSandbox } from '../test/support/sandbox.mjs';
import {
  LiteClient,
  PROTOCOL,
  attachRequest,
  control,
  cpuTicks,
  fdInfo,
  helloFrame,
  readDaemonStats,
  schedStat,
  makeRng,
  percentile,
  pool,
  randomSeed,
  rawRequest,
  round1,
  rssMb,
} from '../test/support/load.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WRAPPER = join(ROOT, 'test', 'support', 'load.mjs');

const USAGE = `usage: node scripts/soak.mjs [--seconds N] [--sessions N] [--flooding N] [--churners N] [--seed N]
                             [--flood seq|yes] [--flood-nice N] [--warmup N]
                             [--list-p99-ms N] [--rss-growth-mb N] [--heap-growth-mb N] [--strict-latency] [--quiet]`;

function parseArgs(argv) {
  const opts = { seconds: 60, sessions: 200, flooding: 20, churners: 8, seed: null, flood: 'seq', floodNice: 10, warmup: null, listP99Ms: 100, rssGrowthMb: 64, heapGrowthMb: 16, strictLatency: false, quiet: false };
  const numeric = {
    '--seconds': 'seconds',
    '--sessions': 'sessions',
    '--flooding': 'flooding',
    '--churners': 'churners',
    '--seed': 'seed',
    '--list-p99-ms': 'listP99Ms',
    '--rss-growth-mb': 'rssGrowthMb',
    '--heap-growth-mb': 'heapGrowthMb',
    '--flood-nice': 'floodNice',
    '--warmup': 'warmup',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === '--quiet') opts.quiet = true;
    else if (a === '--strict-latency') opts.strictLatency = true;
    else if (a === '--flood') {
      opts.flood = argv[++i];
      if (opts.flood !== 'seq' && opts.flood !== 'yes') throw new Error(`--flood: seq or yes, not ${opts.flood}`);
    } else if (numeric[a]) {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a}: a non-negative number, not ${argv[i]}`);
      opts[numeric[a]] = v;
    } else throw new Error(`unknown option ${a}`);
  }
  if (opts.sessions < 1 || opts.flooding > opts.sessions) throw new Error('--sessions must be >= 1 and >= --flooding');
  if (opts.seconds > 3600) throw new Error('--seconds: at most 3600');
  if (opts.sessions > 1000) throw new Error('--sessions: at most 1000');
  opts.churners = Math.max(1, Math.min(64, Math.floor(opts.churners)));
  opts.floodNice = Math.min(19, Math.floor(opts.floodNice));
  opts.warmup ??= Math.min(10, Math.max(3, Math.round(opts.seconds * 0.2)));
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`soak: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const seed = opts.seed ?? randomSeed();
const rng = makeRng(seed);
const t0 = Date.now();
const progress = (msg) => {
  if (!opts.quiet) process.stderr.write(`soak +${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}\n`);
};

// ---------------------------------------------------------------------------
// The list prober runs in its own thread, so the churn's work in this process
// does not show up as daemon latency.

const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { path, intervalMs, timeoutMs, protocol } = workerData;
const hello = Buffer.from(JSON.stringify({ type: 'hello', protocol, version: '0.0.0-soak' }));
const list = Buffer.from(JSON.stringify({ type: 'list' }));
const frame = (b) => { const h = Buffer.alloc(5); h[0] = 1; h.writeUInt32BE(b.length, 1); return Buffer.concat([h, b]); };
const request = Buffer.concat([frame(hello), frame(list)]);
let stop = false;
parentPort.on('message', (m) => { if (m === 'stop') stop = true; });
function once() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.createConnection(path);
    let buf = Buffer.alloc(0);
    let msgs = 0;
    const timer = setTimeout(() => { s.destroy(); resolve({ ms: performance.now() - t0, error: 'timeout' }); }, timeoutMs);
    s.on('connect', () => s.write(request));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        const body = buf.subarray(5, 5 + len);
        buf = buf.subarray(5 + len);
        if (++msgs === 2) {
          clearTimeout(timer);
          const ms = performance.now() - t0;
          s.destroy();
          try {
            const reply = JSON.parse(body.toString('utf8'));
            resolve(reply.type === 'list' ? { ms, sessions: reply.sessions.length } : { ms, error: 'reply ' + reply.type });
          } catch (e) { resolve({ ms, error: 'bad reply' }); }
          return;
        }
      }
    });
    s.on('error', (e) => { clearTimeout(timer); resolve({ ms: performance.now() - t0, error: e.code || e.message }); });
  });
}
(async () => {
  const samples = [];
  const t0 = performance.now();
  while (!stop) {
    const started = performance.now();
    samples.push({ ...(await once()), atMs: Math.round(started - t0) });
    const wait = intervalMs - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  parentPort.postMessage(samples);
})();
`;

function startProber(path) {
  const worker = new Worker(PROBER, { eval: true, workerData: { path, intervalMs: 100, timeoutMs: 5000, protocol: PROTOCOL } });
  const done = new Promise((resolvePromise, reject) => {
    worker.once('message', resolvePromise);
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const samples = await Promise.race([done, sleep(10_000).then(() => null)]);
      await worker.terminate();
      return samples ?? [];
    },
  };
}

// ---------------------------------------------------------------------------
// Churn: one operation at a time per churner, each bounded in time.

const OP_TIMEOUT_MS = 5000;
/** The largest terminal the churn attaches with. */
const MAX_ROWS = 60;
const MAX_COLS = 200;

function newStats() {
  return { ops: {}, failures: [], failureCount: 0, dataBytes: 0 };
}

function count(stats, op, outcome) {
  const key = `${op}:${outcome}`;
  stats.ops[key] = (stats.ops[key] ?? 0) + 1;
}

function fail(stats, op, detail) {
  stats.failureCount++;
  count(stats, op, 'FAILED');
  if (stats.failures.length < 20) stats.failures.push(`${op}: ${detail}`);
}

async function withClient(path, fn) {
  const c = await LiteClient.connect(path, { timeout: OP_TIMEOUT_MS });
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** hello + request on `c`; resolves to the reply to the request. */
async function ask(c, request) {
  c.write(Buffer.concat([helloFrame(), control(request)]));
  const hello = await c.next(OP_TIMEOUT_MS);
  if (hello.type !== 'hello') throw new Error(`expected hello, got ${JSON.stringify(hello)}`);
  return c.next(OP_TIMEOUT_MS);
}

function makeChurn({ path, names, idle, stats, deadline, seedBase }) {
  const ops = {
    /** A foreground attach that ends by detaching, hanging up, or stalling (flooders). */
    async attach(r) {
      const name = r.pick(names);
      const force = r.chance(0.3);
      await withClient(path, async (c) => {
        const reply = await ask(c, attachRequest({ name, force, background: false, rows: r.int(10, MAX_ROWS), cols: r.int(40, MAX_COLS) }));
        if (reply.type === 'busy') return count(stats, 'attach', 'busy');
        if (reply.type !== 'attached') return fail(stats, 'attach', `reply ${JSON.stringify(reply)}`);
        const end = r.weighted([[4, 'detach'], [4, 'hangup'], [1, 'stall']]);
        if (r.chance(0.3)) c.send({ type: 'resize', rows: r.int(10, MAX_ROWS), cols: r.int(40, MAX_COLS) });
        if (idle.includes(name) && r.chance(0.3)) c.write(Buffer.concat([Buffer.from([0x02, 0, 0, 0, 2]), Buffer.from(':\r')]));
        if (end === 'stall') {
          // Stop reading: the daemon must drop this client's backlog, not queue it.
          c.socket.pause();
          await sleep(r.int(500, 1500));
          count(stats, 'attach', 'stalled');
          return;
        }
        await sleep(r.int(20, 400));
        if (end === 'hangup' || c.closed) return count(stats, 'attach', c.closed ? 'displaced' : 'hangup');
        c.send({ type: 'detach', names: [] });
        // The stream may deliver other control messages first (exit never: shells stay).
        for (;;) {
          const m = await c.next(OP_TIMEOUT_MS).catch((err) => (c.closed ? { type: 'closed' } : Promise.reject(err)));
          if (m.type === 'detached' || m.type === 'closed') break;
        }
        await c.waitClose(OP_TIMEOUT_MS);
        stats.dataBytes += c.dataBytes;
        count(stats, 'attach', 'detached');
      });
    },
    async background(r) {
      const name = r.pick(names);
      const reply = (await rawRequest(path, attachRequest({ name }), { timeout: OP_TIMEOUT_MS })).reply;
      if (reply.type !== 'attached' || reply.created) return fail(stats, 'background', `reply ${JSON.stringify(reply)}`);
      count(stats, 'background', 'ok');
    },
    async view(r) {
      const name = r.pick(names);
      await withClient(path, async (c) => {
        const reply = await ask(c, { type: 'view', name, rows: 24, cols: 80, clientPid: process.pid });
        if (reply.type !== 'viewing') return fail(stats, 'view', `reply ${JSON.stringify(reply)}`);
        await sleep(r.int(20, 300));
        count(stats, 'view', 'ok');
      });
    },
    async capture(r) {
      const name = r.pick(names);
      const reply = (await rawRequest(path, { type: 'capture', name, scrollback: r.int(0, 50), ansi: r.chance(0.5) }, { timeout: OP_TIMEOUT_MS })).reply;
      if (reply.type !== 'capture') return fail(stats, 'capture', `reply ${JSON.stringify(reply).slice(0, 200)}`);
      count(stats, 'capture', 'ok');
    },
    async send(r) {
      if (idle.length === 0) return;
      const reply = (await rawRequest(path, { type: 'send', name: r.pick(idle), data: ':\r' }, { timeout: OP_TIMEOUT_MS })).reply;
      if (reply.type !== 'ok') return fail(stats, 'send', `reply ${JSON.stringify(reply)}`);
      count(stats, 'send', 'ok');
    },
    async events(r) {
      await withClient(path, async (c) => {
        c.write(Buffer.concat([helloFrame(), control({ type: 'events', session: null, history: r.int(0, 50) })]));
        const hello = await c.next(OP_TIMEOUT_MS);
        if (hello.type !== 'hello') return fail(stats, 'events', `reply ${JSON.stringify(hello)}`);
        await sleep(r.int(50, 400));
        if (c.messages.slice(1).some((m) => m.type !== 'event')) return fail(stats, 'events', `non-event message ${JSON.stringify(c.messages).slice(0, 200)}`);
        count(stats, 'events', 'ok');
      });
    },
    async garbage(r) {
      await withClient(path, async (c) => {
        c.write(r.chance(0.5) ? r.bytes(r.int(1, 300)) : Buffer.concat([helloFrame(), control({ type: 'attach', name: '../x' })]));
        // Either an immediate protocol error, or (a partial frame) the first-request timeout.
        const closed = await c.closesWithin(OP_TIMEOUT_MS);
        if (!closed && c.messages.length === 0) return fail(stats, 'garbage', 'connection not closed');
        count(stats, 'garbage', 'ok');
      });
    },
    async killMissing(r) {
      const missing = `missing-${r.int(0, 1e6)}`;
      const reply = (await rawRequest(path, { type: 'kill', names: [missing] }, { timeout: OP_TIMEOUT_MS })).reply;
      if (reply.type !== 'kill-result' || reply.notFound[0] !== missing) return fail(stats, 'kill-missing', `reply ${JSON.stringify(reply)}`);
      count(stats, 'kill-missing', 'ok');
    },
  };
  const table = [
    [40, 'attach'],
    [10, 'background'],
    [8, 'view'],
    [8, 'capture'],
    [8, 'send'],
    [6, 'events'],
    [4, 'garbage'],
    [4, 'killMissing'],
  ];
  let stopped = false;
  const churner = async (i) => {
    const r = makeRng(seedBase + i);
    while (!stopped && Date.now() < deadline) {
      const op = r.weighted(table);
      try {
        await ops[op](r);
      } catch (err) {
        fail(stats, op, err.message.slice(0, 300));
      }
    }
  };
  return {
    run: (n) => Promise.all(Array.from({ length: n }, (_, i) => churner(i))),
    stop: () => (stopped = true),
  };
}

// ---------------------------------------------------------------------------

async function main() {
  const summary = { ok: false, seed, options: { ...opts }, failures: [], notes: [] };
  const failures = summary.failures;
  const notes = summary.notes;
  const config = '[hooks]\non_client_disconnect = ["sleep 2"]\ntimeout = "1s"\n';
  const sb = await makeSandbox({ bin: WRAPPER, config });
  const statsFile = sb.path('daemon-stats.json');
  sb.env.TSHPOOL_LOAD_STATS = statsFile;
  // The daemon is tshpool's own program: the reporter goes in by preload (daemon-stats-preload.mjs).
  sb.env.NODE_OPTIONS = `--import=${join(ROOT, 'test', 'support', 'daemon-stats-preload.mjs')}`;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await sb.cleanup();
  };
  const onSignal = (sig) => {
    progress(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Whatever happens, stop by ourselves.
  const hardDeadline = setTimeout(() => {
    process.stderr.write('soak: hard deadline reached; cleaning up\n');
    void cleanup().finally(() => process.exit(2));
  }, (opts.seconds + 180) * 1000);
  hardDeadline.unref();

  try {
    const path = sb.socketPath;
    await sb.runOk(['list']);
    const pid = await sb.daemonPid();
    summary.daemonPid = pid;
    progress(`daemon ${pid} (wrapper with misbehaving hooks); sandbox ${sb.dir}; seed ${seed}`);

    // Sessions: the first `flooding` flood, the rest are idle login shells.
    const names = Array.from({ length: opts.sessions }, (_, i) => `${i < opts.flooding ? 'flood' : 'idle'}-${String(i).padStart(3, '0')}`);
    const flooders = names.slice(0, opts.flooding);
    const idle = names.slice(opts.flooding);
    const floodCmd = [
      ...(opts.floodNice > 0 ? ['nice', '-n', String(opts.floodNice)] : []),
      ...(opts.flood === 'yes' ? ['yes', 'tshpool soak flood'] : ['sh', '-c', 'while :; do seq 1 1000; done']),
    ];
    const createStart = Date.now();
    const created = await pool(names.length, 8, async (i) => {
      const name = names[i];
      const { reply } = await rawRequest(path, attachRequest({ name, cmd: i < opts.flooding ? floodCmd : null }), { timeout: 20_000 });
      if (reply.type !== 'attached' || !reply.created) throw new Error(`creating ${name}: ${JSON.stringify(reply)}`);
      return reply.shellPid;
    });
    const shellPids = Object.fromEntries(names.map((n, i) => [n, created[i]]));
    summary.createMs = Date.now() - createStart;
    progress(`${names.length} sessions created in ${summary.createMs} ms`);
    const first = (await rawRequest(path, { type: 'list' }, { timeout: 20_000 })).reply;
    if (first.sessions.length !== names.length) throw new Error(`list shows ${first.sessions.length} sessions, expected ${names.length}`);

    // A full GC in the daemon (SIGUSR2 to the wrapper), then its memory at rest.
    const atRest = async () => {
      const asked = Date.now();
      process.kill(pid, 'SIGUSR2');
      const deadline = Date.now() + 10_000;
      let stats = readDaemonStats(statsFile);
      while ((stats?.gcAt ?? 0) < asked && Date.now() < deadline) {
        await sleep(50);
        stats = readDaemonStats(statsFile);
      }
      if ((stats?.gcAt ?? 0) < asked) throw new Error('the daemon did not report after a GC (is it the load wrapper?)');
      return { rssMb: rssMb(pid), heapUsedMb: stats.memory.heapUsed, externalMb: stats.memory.external };
    };

    const createdRss = rssMb(pid);
    // Warm-up (not measured): sessions and the daemon reach their working size, so that
    // what is compared afterwards is growth, not first use. Each session's emulator
    // (in the daemon's worker thread, bounded by its scrollback) grows to the largest
    // size a client gives it: one attach per session at the churn's largest size, then churn.
    await pool(names.length, 8, async (i) => {
      await withClient(path, async (c) => {
        const reply = await ask(c, attachRequest({ name: names[i], background: false, rows: MAX_ROWS, cols: MAX_COLS }));
        if (reply.type !== 'attached') throw new Error(`warm-up attach to ${names[i]}: ${JSON.stringify(reply)}`);
        c.send({ type: 'detach', names: [] });
        while ((await c.next(OP_TIMEOUT_MS)).type !== 'detached');
      });
    });
    const warmStats = newStats();
    const warm = makeChurn({ path, names, idle, stats: warmStats, deadline: Date.now() + opts.warmup * 1000, seedBase: seed + 500 });
    await warm.run(opts.churners);
    progress(`warm-up: ${Object.values(warmStats.ops).reduce((a, b) => a + b, 0)} ops in ${opts.warmup} s, ${warmStats.failureCount} failures`);
    if (warmStats.failureCount > 0) failures.push(`${warmStats.failureCount} warm-up operations failed: ${warmStats.failures.slice(0, 3).join(' | ')}`);
    // Baseline: floods running, no churn; its connections closed and its hooks done.
    const quietStart = Date.now();
    while (Date.now() - quietStart < 15_000) {
      const status = (await rawRequest(path, { type: 'status' }, { timeout: 10_000 })).reply.status;
      const f = fdInfo(pid);
      if (status.hooksInFlight === 0 && f.socket <= 1) break;
      await sleep(250);
    }
    const rest0 = await atRest();
    const start = { rssMb: rest0.rssMb, heapUsedMb: rest0.heapUsedMb, externalMb: rest0.externalMb, fds: fdInfo(pid), cpuTicks: cpuTicks(pid) };
    progress(`baseline: rss ${round1(start.rssMb)} MiB, heap used ${round1(start.heapUsedMb)} MiB, fds ${JSON.stringify(start.fds)}`);

    // Sample memory and fds throughout.
    const samples = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = rssMb(pid);
        const f = fdInfo(pid);
        if (r !== null && f !== null) samples.push({ at: Date.now() - t0, rssMb: r, fds: f.total, sockets: f.socket });
        await sleep(200);
      }
    })();

    const prober = startProber(path);
    const sched0 = schedStat(pid);
    const stats = newStats();
    const churnStart = Date.now();
    const deadline = churnStart + opts.seconds * 1000;
    const churn = makeChurn({ path, names, idle, stats, deadline, seedBase: seed + 1000 });
    const ticker = setInterval(() => {
      const last = samples[samples.length - 1];
      progress(`churn: ${Object.values(stats.ops).reduce((a, b) => a + b, 0)} ops, ${stats.failureCount} failures, rss ${round1(last?.rssMb)} MiB, fds ${last?.fds}`);
    }, 5000);
    await churn.run(opts.churners);
    churn.stop();
    clearInterval(ticker);
    const churnMs = Date.now() - churnStart;
    const sched1 = schedStat(pid);
    const listSamples = await prober.stop();
    progress(`churn done after ${churnMs} ms; settling`);

    // Settle: the churn's connections close, hook commands finish. Then read the end state.
    const settleStart = Date.now();
    let endFds = fdInfo(pid);
    while (Date.now() - settleStart < 20_000) {
      endFds = fdInfo(pid);
      const status = (await rawRequest(path, { type: 'status' }, { timeout: 10_000 })).reply.status;
      if (endFds && endFds.socket <= start.fds.socket + 1 && endFds.pipe <= start.fds.pipe && endFds.total <= start.fds.total + 2 && status.hooksInFlight === 0) break;
      await sleep(250);
    }
    // Memory at rest, as for the baseline.
    const rest1 = await atRest();
    sampling = false;
    await sampler;
    const settleMs = Date.now() - settleStart;
    const status = (await rawRequest(path, { type: 'status' }, { timeout: 10_000 })).reply.status;
    const final = (await rawRequest(path, { type: 'list' }, { timeout: 10_000 })).reply;

    // ---- criteria
    const alive = rssMb(pid) !== null;
    if (!alive || (await sb.daemonPid()) !== pid) failures.push(`the daemon ${pid} is gone or was replaced`);
    const finalPids = Object.fromEntries((final.sessions ?? []).map((s) => [s.name, s.pid]));
    const lost = names.filter((n) => finalPids[n] !== shellPids[n]);
    if (lost.length) failures.push(`${lost.length} sessions lost or replaced: ${lost.slice(0, 10).join(' ')}`);
    const extra = Object.keys(finalPids).filter((n) => !(n in shellPids));
    if (extra.length) failures.push(`unexpected sessions: ${extra.slice(0, 10).join(' ')}`);

    const lat = listSamples.filter((s) => !s.error).map((s) => s.ms);
    const listErrors = listSamples.filter((s) => s.error);
    const wrongCount = listSamples.filter((s) => !s.error && s.sessions !== names.length);
    const p99 = percentile(lat, 99);
    if (lat.length < Math.max(5, opts.seconds * 3)) failures.push(`only ${lat.length} list samples in ${opts.seconds} s`);
    if (listErrors.length) failures.push(`${listErrors.length} list probes failed: ${JSON.stringify(listErrors.slice(0, 3))}`);
    if (wrongCount.length) failures.push(`${wrongCount.length} list probes saw the wrong number of sessions`);
    const starved = sched0 && sched1 ? sched1.runqueueWait - sched0.runqueueWait > sched1.cpu - sched0.cpu : false;
    const latencyJudged = opts.strictLatency || !starved;
    if (p99 !== null && p99 >= opts.listP99Ms) {
      if (latencyJudged) failures.push(`list p99 ${round1(p99)} ms >= ${opts.listP99Ms} ms`);
      else notes.push(`list p99 ${round1(p99)} ms >= ${opts.listP99Ms} ms not judged: the daemon's main thread waited longer for a CPU than it ran (a machine busy with other work)`);
    }

    if (endFds.socket > start.fds.socket + 1) failures.push(`socket fds leaked: ${start.fds.socket} before churn, ${endFds.socket} after`);
    if (endFds.ptmx !== start.fds.ptmx) failures.push(`pty fds changed: ${start.fds.ptmx} before churn, ${endFds.ptmx} after`);
    if (endFds.total > start.fds.total + 2) failures.push(`fds leaked: ${start.fds.total} before churn, ${endFds.total} after (${JSON.stringify(endFds)})`);

    const peakRss = Math.max(start.rssMb, ...samples.map((s) => s.rssMb));
    const rssEnd = rest1.rssMb;
    if (rssEnd - start.rssMb > opts.rssGrowthMb) failures.push(`rss did not come back: ${round1(start.rssMb)} MiB before churn, ${round1(rssEnd)} MiB after (allowed +${opts.rssGrowthMb})`);
    if (rest1.heapUsedMb - start.heapUsedMb > opts.heapGrowthMb) {
      failures.push(`live JS heap did not come back: ${round1(start.heapUsedMb)} MiB before churn, ${round1(rest1.heapUsedMb)} MiB after (allowed +${opts.heapGrowthMb})`);
    }
    // The daemon's own event-loop delay during the churn (one-second windows).
    const windows = (readDaemonStats(statsFile)?.windows ?? []).filter((w) => w.at > churnStart + 1000 && w.at <= churnStart + churnMs);

    if (stats.failureCount > 0) failures.push(`${stats.failureCount} churn operations failed: ${stats.failures.slice(0, 5).join(' | ')}`);
    const totalOps = Object.values(stats.ops).reduce((a, b) => a + b, 0);
    if (totalOps < opts.seconds) failures.push(`only ${totalOps} churn operations in ${opts.seconds} s`);
    const hookCalls = Object.values(status.hooks).reduce((a, h) => a + h.calls, 0);
    if (hookCalls === 0) failures.push('no hook ran');

    Object.assign(summary, {
      ok: failures.length === 0,
      churnMs,
      settleMs,
      sessions: { expected: names.length, listed: final.sessions?.length ?? 0, flooding: flooders.length },
      ops: { total: totalOps, failed: stats.failureCount, byOutcome: stats.ops, attachDataKiB: Math.round(stats.dataBytes / 1024), failureSamples: stats.failures },
      list: {
        samples: listSamples.length,
        errors: listErrors.length,
        p50Ms: round1(percentile(lat, 50)),
        p99Ms: round1(p99),
        maxMs: round1(lat.length ? Math.max(...lat) : null),
        judged: latencyJudged,
        slowest: listSamples
          .filter((s) => !s.error)
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5)
          .map((s) => ({ atChurnMs: s.atMs, ms: round1(s.ms) })),
      },
      rssMiB: { afterCreate: round1(createdRss), start: round1(start.rssMb), peak: round1(peakRss), end: round1(rssEnd) },
      heapUsedMiB: { start: round1(start.heapUsedMb), end: round1(rest1.heapUsedMb) },
      externalMiB: { start: round1(start.externalMb), end: round1(rest1.externalMb) },
      eventLoopDelayMs: {
        windows: windows.length,
        worstWindowP50: round1(Math.max(0, ...windows.map((w) => w.p50))),
        worstWindowP99: round1(Math.max(0, ...windows.map((w) => w.p99))),
        max: round1(Math.max(0, ...windows.map((w) => w.max))),
      },
      fds: { start: start.fds, peak: Math.max(...samples.map((s) => s.fds)), end: endFds },
      daemonCpuSeconds: round1(((cpuTicks(pid) ?? 0) - start.cpuTicks) / 100),
      // The main thread during the churn: on a CPU, and runnable but waiting for one (a busy machine).
      daemonMainThreadSeconds: sched0 && sched1 ? { onCpu: round1(sched1.cpu - sched0.cpu), waitingForCpu: round1(sched1.runqueueWait - sched0.runqueueWait) } : null,
      loadAverage: loadavg().map(round1),
      hooks: status.hooks,
      hooksInFlight: status.hooksInFlight,
    });
  } catch (err) {
    failures.push(`soak aborted: ${err.stack ?? err.message}`);
  } finally {
    clearTimeout(hardDeadline);
    progress('cleaning up');
    await cleanup();
  }
  summary.ok = failures.length === 0;
  summary.totalMs = Date.now() - t0;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return summary.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak: ${err.stack ?? err}\n`);
    process.exit(2);
  },
);
