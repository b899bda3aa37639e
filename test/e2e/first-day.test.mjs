/**
 * Small things a first-day user runs into (issue 14, low items): messages that
 * name what they are about, usage errors that exit 2, and no empty successes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSandbox, shellRun } from '../support/sandbox.mjs';

test("a busy session's message names the session in both commands it suggests", async (t) => {
  const sb = await makeSandbox(t);
  await sb.attachShell('busy1');
  const r = await sb.run(['attach', 'busy1'], { input: '' });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /'tshpool attach -f busy1'.*'tshpool view busy1'/);
});

test('set-log-level with an unknown level is a usage error (exit 2) that lists the levels', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['set-log-level', 'loud']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown log level 'loud'.*error, warn, info, debug, trace/);
});

test('capture refuses, with the reason and what to do, in "simple" mode instead of printing nothing', async (t) => {
  const sb = await makeSandbox(t, { config: 'session_restore_mode = "simple"\n' });
  const a = await sb.attachShell('cap');
  await shellRun(a, 'echo HELLO');
  const r = await sb.run(['capture', 'cap']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /keeps no screen \(session_restore_mode = "simple"\).*"screen" or \{ lines = N \}/);
});
