// The soak (scripts/soak.mjs) in a short form: 40 sessions, 4 of them flooding,
// 8 s of attach/detach/hang-up/stall/view/capture/send/events churn over the raw
// protocol, with hooks that throw, hang, reject and spawn slow commands. The script
// checks no crash, no lost session, no fd leak, memory back near its start, and
// list latency; it prints a JSON summary, which this test reports.
//
// The long run is `node scripts/soak.mjs` (60 s, 200 sessions, 20 flooding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, NODE } from '../support/sandbox.mjs';

/**
 * Bounds for a shared CI machine. With ~80 samples, p99 is the slowest probe, which
 * a busy 2-core runner (another suite alongside) can delay by a scheduling slice;
 * the standalone soak keeps the strict 100 ms. Either way the script judges latency
 * only when the daemon had the CPU (see scripts/soak.mjs). TSHPOOL_SOAK_P99_MS overrides.
 */
const LIST_P99_MS = Number(process.env.TSHPOOL_SOAK_P99_MS ?? 250);
const RSS_GROWTH_MB = Number(process.env.TSHPOOL_SOAK_RSS_GROWTH_MB ?? 96);

function runSoak(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [join(ROOT, 'scripts', 'soak.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // The script stops by itself; this only guards against a hang (SIGTERM makes it clean up).
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      reject(new Error(`soak did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('soak, short: 40 sessions (4 flooding), 8 s of churn with misbehaving hooks: no crash, no lost session, no leak', { timeout: 150_000 }, async (t) => {
  const args = ['--seconds', '8', '--sessions', '40', '--flooding', '4', '--quiet', '--list-p99-ms', String(LIST_P99_MS), '--rss-growth-mb', String(RSS_GROWTH_MB)];
  const r = await runSoak(args, 120_000);
  let summary;
  try {
    summary = JSON.parse(r.stdout);
  } catch {
    assert.fail(`soak printed no JSON summary (exit ${r.code}): ${r.stdout.slice(-1000)} ${r.stderr.slice(-2000)}`);
  }
  t.diagnostic(
    `seed ${summary.seed}: ${summary.ops?.total} ops (${summary.ops?.failed} failed); list p50 ${summary.list?.p50Ms} / p99 ${summary.list?.p99Ms} / max ${summary.list?.maxMs} ms; ` +
      `rss start ${summary.rssMiB?.start} / peak ${summary.rssMiB?.peak} / end ${summary.rssMiB?.end} MiB; fds ${summary.fds?.start?.total} → ${summary.fds?.end?.total}; ` +
      `hook timeouts ${Object.values(summary.hooks ?? {}).reduce((a, h) => a + h.timeouts, 0)}, errors ${Object.values(summary.hooks ?? {}).reduce((a, h) => a + h.errors, 0)}; ` +
      `daemon main thread ${JSON.stringify(summary.daemonMainThreadSeconds)} s, load ${summary.loadAverage}`,
  );
  for (const note of summary.notes ?? []) t.diagnostic(note);
  assert.deepEqual(summary.failures, [], `soak failed (seed ${summary.seed}, rerun: node scripts/soak.mjs ${args.join(' ')} --seed ${summary.seed})`);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  assert.equal(summary.sessions.listed, 40);
  assert.ok(summary.hooks.onReattach?.timeouts > 0 || summary.hooks.onClientDisconnect?.timeouts > 0, 'the hanging and slow hooks ran and timed out');
});
