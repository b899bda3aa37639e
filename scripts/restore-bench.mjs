#!/usr/bin/env node
/**
 * Measures what the screen-restore engine costs (docs/restore.md has the results).
 * Run after `npx tsc -p .`:
 *
 *   node scripts/restore-bench.mjs flood [--runs 5] [--count 3000000] [--output seq|ansi] [--modes bare,simple,screen-inline,screen-worker]
 *   node scripts/restore-bench.mjs serialize [--cols 120] [--rows 40] [--lines 1000]
 *   node scripts/restore-bench.mjs memory [--sessions 100] [--engine worker|inline]
 *
 * flood: like the daemon's live path: `seq 1 COUNT` runs in a node-pty; every pty
 * chunk goes to the spool's write() and to a unix socket read by a separate
 * process (the "client"), on this process's main thread. Timed from spawn until
 * the pty exited and the client has received every byte. Modes run interleaved.
 * "bare" has no spool call at all; "simple" is NullSpool.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pty from 'node-pty';
import { createSpool } from '../dist/restore/create-spool.js';
import { NullSpool } from '../dist/restore/spool.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '5' },
    count: { type: 'string', default: '3000000' },
    modes: { type: 'string', default: 'bare,simple,screen-inline,screen-worker' },
    cols: { type: 'string', default: '120' },
    rows: { type: 'string', default: '40' },
    lines: { type: 'string', default: '1000' },
    sessions: { type: 'string', default: '100' },
    engine: { type: 'string', default: 'worker' },
    child: { type: 'string' },
    output: { type: 'string', default: 'seq' },
  },
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The "client": connects to the socket, discards everything, reports the byte count when it ends. */
function clientMain(path) {
  let bytes = 0;
  const sock = net.connect(path);
  sock.on('data', (d) => (bytes += d.length));
  sock.on('end', () => {
    process.send({ bytes });
    process.exit(0);
  });
}

function makeSpool(mode, cols, rows) {
  switch (mode) {
    case 'bare':
      return null;
    case 'simple':
      return new NullSpool();
    case 'screen-inline':
      return createSpool('screen', { cols, rows, reply: () => {}, engine: 'inline' });
    case 'screen-worker':
      return createSpool('screen', { cols, rows, reply: () => {}, engine: 'worker' });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

async function floodOnce(mode, count, dir, run) {
  const cols = 120;
  const rows = 40;
  const spool = makeSpool(mode, cols, rows);
  if (spool) await spool.snapshot(); // engine loaded and (worker) thread started before timing
  const path = join(dir, `s${run}-${mode}`);
  const server = net.createServer();
  await new Promise((r) => server.listen(path, r));
  const child = fork(new URL(import.meta.url), ['--child', path], { stdio: 'ignore' });
  child.channel?.unref();
  const [conn] = await Promise.all([new Promise((r) => server.once('connection', r))]);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const received = new Promise((r) => child.once('message', (m) => r(m.bytes)));
  // seq: plain lines (the output condenser skips most of them); ansi: every line has colours and an
  // erase-to-end-of-line, so nothing can be skipped and the emulator parses all of it.
  const [file, args] =
    values.output === 'ansi'
      ? ['awk', [`BEGIN { for (i = 1; i <= ${Math.round(count / 2)}; i++) printf "\\033[32m%d\\033[0m\\033[K\\n", i }`]]
      : ['seq', ['1', String(count)]];
  const term = pty.spawn(file, args, { cols, rows, encoding: null, env: process.env });
  let sent = 0;
  let chunks = 0;
  term.onData((data) => {
    sent += data.length;
    chunks++;
    spool?.write(data);
    conn.write(data);
  });
  await new Promise((r) => term.onExit(r));
  conn.end();
  const bytes = await received;
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  let catchUpMs = 0;
  if (spool) {
    const s0 = performance.now();
    await spool.snapshot();
    catchUpMs = performance.now() - s0;
    spool.dispose();
  }
  server.close();
  return { mode, s: (t1 - t0) / 1000, mb: bytes / 1e6, sent, chunks, catchUpMs, processCpuS: (cpu.user + cpu.system) / 1e6, mainBusyS: elu.active / 1000 };
}

async function flood() {
  const runs = Number(values.runs);
  const count = Number(values.count);
  const modes = values.modes.split(',');
  const dir = mkdtempSync(join(tmpdir(), 'restore-bench-'));
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  try {
    // One warm-up run per mode (JIT, page cache, worker start), not counted.
    for (const m of modes) await floodOnce(m, count, dir, `w-${m}`);
    for (let i = 0; i < runs; i++) {
      for (const m of modes) {
        const r = await floodOnce(m, count, dir, i);
        results[m].push(r);
        console.log(
          `run ${i} ${m.padEnd(14)} ${r.s.toFixed(3)} s  ${r.mb.toFixed(1)} MB to client  chunks ${r.chunks} (avg ${(r.sent / r.chunks / 1024).toFixed(1)} KiB)  main loop busy ${r.mainBusyS.toFixed(2)} s  process cpu ${r.processCpuS.toFixed(2)} s  spool catch-up ${r.catchUpMs.toFixed(0)} ms`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nmedians (speed ratios are paired: each run of a mode against the simple run just before it,');
  console.log('which cancels most of the drift in background load):');
  for (const m of modes) {
    const s = median(results[m].map((r) => r.s));
    const paired = (ref) => (results[ref] ? median(results[m].map((r, i) => results[ref][i].s / r.s)) : NaN);
    console.log(
      `${m.padEnd(14)} ${s.toFixed(3)} s  speed vs simple ${paired('simple').toFixed(2)}x  time vs bare ${(1 / paired('bare')).toFixed(2)}x  catch-up ${median(results[m].map((r) => r.catchUpMs)).toFixed(0)} ms  main loop busy ${median(results[m].map((r) => r.mainBusyS)).toFixed(2)} s  process cpu ${median(results[m].map((r) => r.processCpuS)).toFixed(2)} s`,
    );
  }
}

async function serialize() {
  const cols = Number(values.cols);
  const rows = Number(values.rows);
  const lines = Number(values.lines);
  for (const engine of ['inline', 'worker']) {
    const spool = createSpool('screen', { cols, rows, scrollbackLines: lines, reply: () => {}, engine });
    // Coloured, full-width lines: the worst case for the serializer (attribute changes on every line).
    let text = '';
    for (let i = 0; i < lines + rows; i++) {
      text += `\x1b[3${i % 8}m${String(i).padStart(6)}\x1b[0m ${'x'.repeat(cols - 20)} \x1b[1mEND\x1b[0m\r\n`;
    }
    spool.write(Buffer.from(text));
    await spool.snapshot();
    const times = [];
    let size = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const snap = await spool.snapshot();
      times.push(performance.now() - t0);
      size = snap.length;
    }
    console.log(
      `${engine}: snapshot of ${cols}x${rows} + ${lines} lines scrollback: median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms, ${(size / 1024).toFixed(0)} KiB`,
    );
    spool.dispose();
  }
}

async function memoryChild() {
  const n = Number(values.sessions);
  const engine = values.engine;
  const prompt = Buffer.from(
    'Last login: Sat Nov 22 10:00:00 2026 from 10.0.0.1\r\n\x1b]0;user@host: ~\x07\x1b[?2004h\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ',
  );
  const gc = globalThis.gc;
  gc?.();
  const rss0 = process.memoryUsage().rss;
  const spools = [];
  for (let i = 0; i < n; i++) {
    const s = createSpool('screen', { cols: 120, rows: 40, reply: () => {}, engine });
    s.write(prompt);
    spools.push(s);
  }
  await Promise.all(spools.map((s) => s.snapshot()));
  gc?.();
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const rss1 = process.memoryUsage().rss;
  process.send({ rss0, rss1, n, heap: process.memoryUsage().heapUsed });
}

async function memory() {
  for (const engine of ['inline', 'worker']) {
    const child = fork(new URL(import.meta.url), ['memory-child', '--sessions', values.sessions, '--engine', engine], {
      execArgv: ['--expose-gc'],
    });
    const m = await new Promise((r) => child.once('message', r));
    child.kill();
    const per = (m.rss1 - m.rss0) / m.n / 1024 / 1024;
    console.log(
      `${engine}: RSS before ${(m.rss0 / 1048576).toFixed(1)} MB, with ${m.n} idle screen spools ${(m.rss1 / 1048576).toFixed(1)} MB: ${per.toFixed(2)} MB per session (incl. the shared worker's start-up for 'worker')`,
    );
  }
}

if (values.child) clientMain(values.child);
else if (positionals[0] === 'flood') await flood();
else if (positionals[0] === 'serialize') await serialize();
else if (positionals[0] === 'memory') await memory();
else if (positionals[0] === 'memory-child') await memoryChild();
else {
  console.error('usage: restore-bench.mjs flood|serialize|memory [options]');
  process.exit(2);
}
