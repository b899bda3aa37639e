/**
 * The benchmark suite works: `node scripts/bench.mjs --quick` exits 0 and writes a
 * report with a figure for tshpool and the bare pty in every step — the lean C
 * harness (compiled here with cc) at every terminal size, and the Node harness.
 * Nothing is timed here; peers that are not installed are skipped by the suite itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BENCH = join(ROOT, 'scripts', 'bench.mjs');
const STEPS = ['flood', 'echo', 'attach', 'slowlink', 'hook-spin', 'flood-node', 'drain', 'echo-node', 'attach-node', 'memory', 'slow', 'scale'];
/** Figures each lean step must have for tshpool and the bare pty, at every size. */
const LEAN_FIGURES = {
  flood: ['time_s_80x24', 'time_s_160x50', 'time_s_240x67', 'mb_80x24', 'mb_240x67'],
  echo: ['p50_us_80x24', 'p99_us_80x24', 'p50_us_160x50', 'p99_us_160x50'],
  attach: ['cold_ms_80x24'],
  slowlink: ['time_s_80x24', 'time_s_160x50', 'mb_80x24', 'mb_160x50'],
};
// ~60 s on an idle machine; a machine shared with other test suites has taken 3× as long.
const RUN_TIMEOUT_MS = 420_000;

function runBench(args) {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BENCH, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    // SIGTERM lets the suite kill what it started; SIGKILL if it does not stop.
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, out });
    });
  });
}

test('bench --quick reports tshpool and the bare pty in every step', { timeout: RUN_TIMEOUT_MS + 15_000 }, async (t) => {
  const outDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  t.after(() => rmSync(outDir, { recursive: true, force: true }));

  const r = await runBench(['--quick', '--out', outDir]);
  assert.equal(r.code, 0, `bench exited with ${r.code ?? r.signal}:\n${r.out.slice(-4000)}`);

  for (const f of ['benchmarks.json', 'benchmarks.md', 'benchmarks-chart.svg']) assert.ok(existsSync(join(outDir, f)), `${f} written`);
  const report = JSON.parse(readFileSync(join(outDir, 'benchmarks.json'), 'utf8'));
  assert.equal(report.complete, true, 'the run completed');
  for (const step of STEPS) {
    for (const tool of ['tshpool', 'bare-pty']) {
      const res = report.steps[step]?.results?.[tool];
      assert.ok(res, `${step}: no result for ${tool}`);
      assert.equal(res.status, 'ok', `${step}/${tool}: ${JSON.stringify(res.errors)}`);
      const figures = Object.values(res.metrics).filter((v) => typeof v === 'number' && Number.isFinite(v));
      assert.ok(figures.length > 0, `${step}/${tool}: no figure in ${JSON.stringify(res.metrics)}`);
      for (const key of LEAN_FIGURES[step] ?? []) assert.ok(Number.isFinite(res.metrics[key]), `${step}/${tool}: no ${key} in ${JSON.stringify(res.metrics)}`);
    }
  }
  for (const key of ['warm_ms_80x24', 'list_ms', 'node_e0_ms']) {
    assert.ok(Number.isFinite(report.steps.attach.results.tshpool.metrics[key]), `attach/tshpool: no ${key}`);
  }
  assert.ok(Number.isFinite(report.steps.attach.reference.metrics.node_e0_ms), 'node -e 0 timed by the lean harness');
  // The slow link delivers every byte through tshpool, as on the bare pty.
  const slow = report.steps.slowlink.results;
  assert.ok(slow.tshpool.metrics.mb_80x24 >= slow['bare-pty'].metrics.mb_80x24 * 0.999, `slow link: tshpool delivered ${slow.tshpool.metrics.mb_80x24} of ${slow['bare-pty'].metrics.mb_80x24} MB`);
  assert.ok(Array.isArray(report.targets) && report.targets.length > 0, 'targets evaluated');
  assert.match(readFileSync(join(outDir, 'benchmarks-chart.svg'), 'utf8'), /^<svg /);
});
