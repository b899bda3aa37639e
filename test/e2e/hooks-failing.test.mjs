// End-to-end: failing wrapper hooks — throwing, rejecting, never settling, slow —
// never delay the user's prompt nor stop the daemon; each failure is logged with
// the hook, the session and the error, and counted in `tshpool status`. Also the
// built-in hooks: composeHooks keeps calling the other parts when one fails, and
// LoggingHooks writes events to the daemon log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DETACH,
  assertPaired,
  daemonStatus,
  makeHookSandbox,
  readLog,
  readRecords,
  specific,
  waitForLog,
  waitForRecords,
  waitForStatus,
} from '../support/hooks-recorder.mjs';

/** A new session's prompt must show in normal time, whatever its hooks do. */
const PROMPT_LIMIT_MS = 2000;

/** Attaches to a new session `name`; returns the terminal and the ms until its shell answered. */
async function timedAttach(sb, name) {
  const started = Date.now();
  const term = await sb.attachShell(name);
  return { term, ms: Date.now() - started };
}

/**
 * The common scenario: with onNewSession misbehaving, two new sessions each get
 * their prompt in normal time, onEvent is still called for each, and the daemon
 * keeps serving.
 */
async function twoSessions(t, env, config = '') {
  const sb = await makeHookSandbox(t, { env, config });
  // makeHookSandbox started the daemon: the timing below is the session's only.
  const first = await timedAttach(sb, 's1');
  assert.ok(first.ms < PROMPT_LIMIT_MS, `the first prompt took ${first.ms} ms`);
  // The daemon keeps serving: list, and another session.
  assert.deepEqual((await sb.list()).map((s) => s.name), ['s1']);
  const second = await timedAttach(sb, 's2');
  assert.ok(second.ms < PROMPT_LIMIT_MS, `the second prompt took ${second.ms} ms`);
  assert.deepEqual((await sb.list()).map((s) => [s.name, s.status]), [
    ['s1', 'attached'],
    ['s2', 'attached'],
  ]);
  // The failing hook does not stop the next one (onEvent, after it) from running.
  const records = await waitForRecords(sb, (r) => ['s1', 's2'].every((n) => r.some((x) => x.hook === 'onEvent' && x.name === n)));
  assert.deepEqual(specific(records).map((r) => [r.hook, r.name]), [
    ['onNewSession', 's1'],
    ['onNewSession', 's2'],
  ]);
  return { sb, first, second };
}

test('a hook that throws synchronously: prompt in normal time, daemon serves, failure logged and counted', async (t) => {
  const { sb, first } = await twoSessions(t, { TSHPOOL_TEST_THROW: 'onNewSession' });
  for (const name of ['s1', 's2']) {
    await waitForLog(sb, new RegExp(`WARN +hook failed hook="onNewSession" session="${name}" error="test: onNewSession threw on purpose"`));
  }
  const st = await daemonStatus(sb);
  assert.equal(st.hooks.onNewSession.calls, 2);
  assert.equal(st.hooks.onNewSession.errors, 2);
  assert.equal(st.hooks.onNewSession.timeouts, 0);
  assert.equal(st.hooks.onNewSession.lastError, 'test: onNewSession threw on purpose');
  assert.equal(st.hooks.onEvent.errors, 0);
  // The human-readable status shows the counters too.
  assert.match((await sb.runOk(['status'])).stdout, /^onNewSession +2 +2 +0 +0 +[\d.]+ +test: onNewSession threw on purpose$/m);
  // The session works normally afterwards.
  first.term.write(DETACH);
  assert.equal((await first.term.waitExit()).exitCode, 0);
  await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onClientDisconnect'));
});

test('a hook that rejects: prompt in normal time, daemon serves, failure logged and counted', async (t) => {
  const { sb } = await twoSessions(t, { TSHPOOL_TEST_REJECT: 'onNewSession' });
  for (const name of ['s1', 's2']) {
    await waitForLog(sb, new RegExp(`WARN +hook failed hook="onNewSession" session="${name}" error="test: onNewSession rejected on purpose"`));
  }
  const st = await daemonStatus(sb);
  assert.deepEqual(
    { calls: st.hooks.onNewSession.calls, errors: st.hooks.onNewSession.errors, timeouts: st.hooks.onNewSession.timeouts },
    { calls: 2, errors: 2, timeouts: 0 },
  );
  assert.equal(st.hooks.onNewSession.lastError, 'test: onNewSession rejected on purpose');
});

test('a hook that never settles: prompt in normal time, timed out after [hooks] timeout, logged and counted', async (t) => {
  const { sb } = await twoSessions(t, { TSHPOOL_TEST_HANG: 'onNewSession' }, '[hooks]\ntimeout = "1s"\n');
  for (const name of ['s1', 's2']) {
    await waitForLog(sb, new RegExp(`WARN +hook timed out hook="onNewSession" session="${name}" timeoutMs=1000`));
  }
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0 && s.hooks.onNewSession?.timeouts === 2);
  assert.equal(st.hooks.onNewSession.calls, 2);
  assert.equal(st.hooks.onNewSession.errors, 0);
  assert.equal(st.hooks.onNewSession.lastError, 'timed out after 1000 ms');
  assert.doesNotMatch(readLog(sb), /hook failed/);
});

test('a 5-second hook delays neither the prompt, nor other sessions, nor the next hook', async (t) => {
  const started = Date.now();
  const { sb } = await twoSessions(t, { TSHPOOL_TEST_SLOW: 'onNewSession:5000' });
  // Both calls are still running while both sessions already work.
  const running = await daemonStatus(sb);
  assert.equal(running.hooksInFlight, 2, JSON.stringify(running.hooks));
  assert.ok(!readRecords(sb).some((r) => r.done), 'the slow hooks are still running');
  // They finish, successfully, after their 5 s.
  const records = await waitForRecords(sb, (r) => r.filter((x) => x.done).length === 2, { timeout: 15_000 });
  assert.ok(Date.now() - started >= 5000);
  assertPaired(records);
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0);
  assert.deepEqual(
    { calls: st.hooks.onNewSession.calls, errors: st.hooks.onNewSession.errors, timeouts: st.hooks.onNewSession.timeouts },
    { calls: 2, errors: 0, timeouts: 0 },
  );
  assert.ok(st.hooks.onNewSession.meanDurationMs >= 4900, `mean duration ${st.hooks.onNewSession.meanDurationMs}`);
  assert.doesNotMatch(readLog(sb), /hook failed|hook timed out/);
});

test('failing hooks on every path (busy hangs, client disconnect throws, shell disconnect rejects): the session lifecycle is unaffected', async (t) => {
  const sb = await makeHookSandbox(t, {
    env: { TSHPOOL_TEST_HANG: 'onBusy', TSHPOOL_TEST_THROW: 'onClientDisconnect', TSHPOOL_TEST_REJECT: 'onShellDisconnect' },
  });
  const a = await sb.attachShell('m');
  const busy = sb.spawnTerm(['attach', 'm']);
  assert.equal((await busy.waitExit()).exitCode, 3);
  a.write(DETACH);
  assert.equal((await a.waitExit()).exitCode, 0);
  const b = await sb.attachShell('m');
  b.write('exit 5\r');
  assert.equal((await b.waitExit()).exitCode, 5);
  const records = await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onEvent' && x.event.type === 'session.removed'));
  assertPaired(records);
  assert.deepEqual(specific(records).map((r) => [r.hook, r.event.reason ?? null]), [
    ['onNewSession', null],
    ['onBusy', null],
    ['onClientDisconnect', 'detach'],
    ['onReattach', null],
    ['onClientDisconnect', 'exit'],
    ['onShellDisconnect', 'exit'],
  ]);
  await waitForLog(sb, /hook failed hook="onClientDisconnect" session="m" error="test: onClientDisconnect threw on purpose"/);
  await waitForLog(sb, /hook failed hook="onShellDisconnect" session="m" error="test: onShellDisconnect rejected on purpose"/);
  const st = await waitForStatus(sb, (s) => s.hooks.onShellDisconnect?.errors === 1);
  assert.equal(st.hooks.onClientDisconnect.errors, 2);
  // The hanging hook is still running (default timeout 30 s): it is counted when it ends.
  assert.equal(st.hooks.onBusy, undefined);
  assert.equal(st.hooksInFlight, 1);
  assert.deepEqual(await sb.list(), []);
});

test('composeHooks: a failing part does not stop the next one; the failure is logged and counted', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_COMPOSE: '1' } });
  const term = await sb.attachShell('c');
  term.write(DETACH);
  await term.waitExit();
  await sb.runOk(['kill', 'c']);
  const records = await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onEvent' && x.event.type === 'session.removed'));
  assertPaired(records);
  assert.deepEqual(specific(records).map((r) => [r.hook, r.name, r.event.reason ?? null]), [
    ['onNewSession', 'c', null],
    ['onClientDisconnect', 'c', 'detach'],
    ['onShellDisconnect', 'c', 'kill'],
  ]);
  for (const hook of ['onNewSession', 'onClientDisconnect', 'onShellDisconnect', 'onEvent']) {
    // Each part's error is kept, naming the part.
    await waitForLog(sb, new RegExp(`hook failed hook="${hook}" session="c" error="part 1: test: composed ${hook} failed" stack="Error: part 1: test: composed ${hook} failed`));
  }
  // onEvent: session.created, session.attached (created), session.detached, session.removed.
  const st = await waitForStatus(sb, (s) => s.hooks.onShellDisconnect?.errors === 1 && s.hooks.onEvent?.errors === 4);
  assert.equal(st.hooks.onNewSession.errors, 1);
  assert.equal(st.hooks.onClientDisconnect.errors, 1);
});

test('LoggingHooks writes every event to the daemon log', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_LOGGING: '1' } });
  await sb.runOk(['attach', '-b', 'lg']);
  const [{ pid }] = await sb.list();
  await sb.runOk(['kill', 'lg']);
  await waitForLog(sb, new RegExp(`INFO +hook event session.created seq=1 type="session.created" session="lg" sessionName="lg" at=\\d+ shellPid=${pid} clientPid=\\d+`));
  await waitForLog(sb, new RegExp(`INFO +hook event session.removed seq=2 type="session.removed" session="lg" sessionName="lg" at=\\d+ shellPid=${pid} reason="kill" exitCode=\\d+ signal=1`));
  // Composed with the recorder, which still saw both.
  const records = await waitForRecords(sb, 4);
  assert.deepEqual(specific(records).map((r) => r.hook), ['onNewSession', 'onShellDisconnect']);
  assert.equal((await daemonStatus(sb)).hooks.onEvent.errors, 0);
});
