/**
 * The benchmark suite works: `node scripts/bench.mjs --quick` exits 0 and writes a
 * report with a figure for tshpool and the bare pty in every step. Nothing is
 * timed here; peers that are not installed are skipped by the suite itself.
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
const STEPS = ['flood', 'drain', 'echo', 'attach', 'memory', 'slow', 'scale'];
const RUN_TIMEOUT_MS = 170_000;

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
    }
  }
  assert.ok(Array.isArray(report.targets) && report.targets.length > 0, 'targets evaluated');
  assert.match(readFileSync(join(outDir, 'benchmarks-chart.svg'), 'utf8'), /^<svg /);
});
