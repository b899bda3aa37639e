// End-to-end: wrapper code can never hurt a session. The wrapper's hooks run in
// its hook host, a process of their own; for every way a hook can go wrong — an
// uncaught exception from a timer, an unhandled rejection, process.exit, a 3 s
// synchronous loop, a heap exhausted — the daemon keeps its pid, an attached
// terminal keeps echoing while it happens, the failure is logged with the hook,
// the session and the stack, `status` shows it (and the host's restart), and
// later events reach the (restarted) host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { NODE, makeSandbox, waitUntil } from '../support/sandbox.mjs';
import { RECORDING_WRAPPER, daemonStatus, ensureDaemon, makeHookSandbox, waitForLog, waitForRecords, waitForStatus } from '../support/hooks-recorder.mjs';

/**
 * Starts a hook sandbox whose onNewSession misbehaves (env) for session `victim`
 * only, with an attached session `other`; creates `victim`; while the hook
 * misbehaves, `other` must echo. Returns what the checks need.
 */
async function misbehaveOnce(t, env, { config = '' } = {}) {
  const sb = await makeHookSandbox(t, { env: { ...env, TSHPOOL_TEST_VICTIM: 'victim' }, config });
  const daemonPid = await sb.daemonPid();
  const before = await daemonStatus(sb);
  const other = await sb.attachShell('other');
  await sb.runOk(['attach', '-b', 'victim']);
  await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onNewSession' && x.name === 'victim'));
  // The attached terminal answers while (or right after) the hook misbehaves.
  other.write('echo alive$((6*7))\r');
  await other.waitFor('alive42');
  const echoedAt = Date.now();
  return { sb, daemonPid, hostPid: before.hookHost.pid, other, echoedAt };
}

/** After the misbehaviour: same daemon, both sessions alive, and a later event reaches a host. */
async function assertUnharmed(sb, { daemonPid, other }) {
  assert.equal(await sb.daemonPid(), daemonPid, 'the daemon was not replaced');
  assert.deepEqual((await sb.list()).map((s) => [s.name, s.status]), [
    ['other', 'attached'],
    ['victim', 'disconnected'],
  ]);
  other.write('echo again$((1+1))\r');
  await other.waitFor('again2');
  await sb.runOk(['attach', '-b', 'later']);
  await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onNewSession' && x.name === 'later'), { timeout: 15_000 });
}

test('an uncaught exception thrown from a hook\'s timer: logged with hook, session and stack; the host restarts; no session notices', async (t) => {
  const ctx = await misbehaveOnce(t, { TSHPOOL_TEST_LATE_THROW: 'onNewSession' });
  const { sb } = ctx;
  await waitForLog(sb, /ERROR +an uncaught exception escaped a hook; the hook host restarts hook="onNewSession" session="victim" error="test: onNewSession threw late" stack="Error: test: onNewSession threw late\\n +at Timeout/);
  await waitForLog(sb, /ERROR +hook host died; restarting it \(sessions are not affected\) cause="uncaught exception in onNewSession: test: onNewSession threw late \(exited with status 70\)"/);
  const st = await waitForStatus(sb, (s) => s.hookHost.state === 'running' && s.hookHost.restarts === 1);
  assert.notEqual(st.hookHost.pid, ctx.hostPid, 'a new host');
  assert.match(st.hookHost.lastCrash.cause, /uncaught exception in onNewSession/);
  assert.equal(st.hookHost.escapedErrors, 1);
  await assertUnharmed(sb, ctx);
});

test('an unhandled rejection started by a hook: logged with the hook that started it; the host keeps running', async (t) => {
  const ctx = await misbehaveOnce(t, { TSHPOOL_TEST_UNHANDLED: 'onNewSession' });
  const { sb } = ctx;
  await waitForLog(sb, /ERROR +an unhandled rejection escaped a hook hook="onNewSession" session="victim" error="test: onNewSession left a rejection unhandled" stack="Error: /);
  const st = await waitForStatus(sb, (s) => s.hookHost.escapedErrors === 1);
  assert.equal(st.hookHost.restarts, 0);
  assert.equal(st.hookHost.pid, ctx.hostPid);
  assert.equal(st.hooks.onNewSession.errors, 1);
  await assertUnharmed(sb, ctx);
});

test('process.exit(1) in a hook ends only the hook host, which restarts; the exit is logged with the hook that called it', async (t) => {
  const ctx = await misbehaveOnce(t, { TSHPOOL_TEST_EXIT: 'onNewSession' });
  const { sb } = ctx;
  await waitForLog(sb, /ERROR +a hook called process.exit; the hook host restarts hook="onNewSession" session="victim" error="process.exit\(1\)" stack="Error: process.exit\\n +at process.exit .*recording-wrapper\.mjs/);
  await waitForLog(sb, /WARN +hook failed hook="hook host" session="victim" error="the hook host died while running the hooks for session.created: onNewSession called process.exit\(1\) \(exited with status 1\)"/);
  const st = await waitForStatus(sb, (s) => s.hookHost.state === 'running' && s.hookHost.restarts === 1);
  assert.equal(st.hookHost.lastCrash.cause, 'onNewSession called process.exit(1) (exited with status 1)');
  assert.match((await sb.runOk(['status'])).stdout, /^hook host: running, pid \d+, 1 restart\(s\); last crash \d+\w* ago: onNewSession called process.exit\(1\) \(exited with status 1\)$/m);
  const doctor = await sb.run(['doctor']);
  assert.match(doctor.stdout, /^FAIL  hook host of \S+recording-wrapper\.mjs \(hooks: onNewSession, .*\) is running, 1 restart\(s\); it crashed \d+ s ago: onNewSession called process.exit\(1\)/m);
  await assertUnharmed(sb, ctx);
});

test('a hook that spins for 3 s holds only the hook host: the attached terminal echoes before the hook ends', async (t) => {
  const ctx = await misbehaveOnce(t, { TSHPOOL_TEST_SPIN: 'onNewSession:3000' });
  const { sb } = ctx;
  const records = await waitForRecords(sb, (r) => r.some((x) => x.spun), { timeout: 15_000 });
  const spun = records.find((x) => x.spun).spun;
  assert.ok(ctx.echoedAt < spun, `the echo came ${spun - ctx.echoedAt} ms before the spinning hook ended`);
  await waitForLog(sb, /WARN +a hook blocked the hook host synchronously \(sessions were not affected\) hook="onNewSession" session="victim" ms=3\d\d\d/);
  const st = await waitForStatus(sb, (s) => s.hookHost.blockedReports === 1);
  assert.equal(st.hookHost.restarts, 0);
  await assertUnharmed(sb, ctx);
});

test('a hook that exhausts the hook host\'s heap (host_heap_limit_mb = 48): the host dies and restarts; no session notices', async (t) => {
  const ctx = await misbehaveOnce(t, { TSHPOOL_TEST_HOG: 'onNewSession' }, { config: '[hooks]\nhost_heap_limit_mb = 48\n' });
  const { sb } = ctx;
  const st = await waitForStatus(sb, (s) => s.hookHost.state === 'running' && s.hookHost.restarts === 1, { timeout: 30_000 });
  assert.match(st.hookHost.lastCrash.cause, /SIGABRT|SIGTRAP|status 134|status 133/, st.hookHost.lastCrash.cause);
  await assertUnharmed(sb, ctx);
});

test('hooks run with the wrapper\'s Node flags: a --import preload is loaded in the hook host', async (t) => {
  const preload = `/tmp/tsp-preload-${process.pid}.mjs`;
  writeFileSync(preload, "globalThis.__tshpoolTestPreload = 'yes';\n");
  t.after(() => execFile('rm', ['-f', preload]));
  const sb = await makeHookSandbox(t, { nodeArgs: ['--import', preload] });
  await sb.runOk(['attach', '-b', 'p']);
  const records = await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onNewSession'));
  assert.equal(records[0].preload, 'yes', 'the hook ran where the preload ran');
  const st = await daemonStatus(sb);
  assert.deepEqual(st.hookHost.command.slice(1, 3), ['--import', preload]);
});

test('a wrapper\'s command that finds a daemon started by plain tshpool says its hooks do not run there, and how to fix it', async (t) => {
  const sb = await makeSandbox(t);
  await ensureDaemon(sb);
  const daemonPid = await sb.daemonPid();
  const r = await new Promise((resolve) => {
    execFile(NODE, [RECORDING_WRAPPER, 'list'], { env: sb.env, cwd: sb.home }, (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`warning: the daemon at \\S+ \\(pid ${daemonPid}\\) was started by plain tshpool \\(no hooks\\), so this wrapper's hooks \\(\\S*recording-wrapper.mjs\\) do not run for its sessions\\. Give this wrapper a socket of its own \\(--socket PATH or TSHPOOL_SOCKET\\), or stop that daemon`),
  );
  // Plain tshpool against a wrapper's daemon is fine: no warning.
  const wrapped = await makeHookSandbox(t);
  const plain = await new Promise((resolve) => {
    execFile(NODE, [sb.bin, 'list'], { env: wrapped.env, cwd: wrapped.home }, (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr }));
  });
  assert.equal(plain.stderr, '');
});

test('view fires onViewerJoin and onViewerLeave (session.viewer_joined / viewer_left, with the reason)', async (t) => {
  const sb = await makeHookSandbox(t);
  await sb.runOk(['attach', '-b', 'v']);
  const viewer = sb.spawnTerm(['view', 'v']);
  await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onViewerJoin'));
  viewer.write('\x00\x11');
  assert.equal((await viewer.waitExit()).exitCode, 0);
  const second = sb.spawnTerm(['view', 'v']);
  await waitForRecords(sb, (r) => r.filter((x) => x.hook === 'onViewerJoin').length === 2);
  await sb.runOk(['kill', 'v']);
  await second.waitExit();
  const records = await waitForRecords(sb, (r) => r.filter((x) => x.hook === 'onViewerLeave').length === 2);
  const viewerCalls = records.filter((x) => x.hook.startsWith('onViewer')).map((x) => [x.hook, x.event.type, x.event.reason ?? null, x.event.clientPid]);
  assert.deepEqual(viewerCalls, [
    ['onViewerJoin', 'session.viewer_joined', null, viewer.pid],
    ['onViewerLeave', 'session.viewer_left', 'detach', viewer.pid],
    ['onViewerJoin', 'session.viewer_joined', null, second.pid],
    ['onViewerLeave', 'session.viewer_left', 'kill', second.pid],
  ]);
});

test('attach --hook given to an existing session is added to it', async (t) => {
  const sb = await makeSandbox(t);
  const flag = sb.path('ended');
  await sb.runOk(['attach', '-b', 'x']);
  await sb.runOk(['attach', '-b', '--hook', `on_shell_disconnect=touch ${flag}`, 'x']);
  await sb.runOk(['kill', 'x']);
  await waitUntil(() => existsSync(flag), { message: 'the added hook command to run' });
});
