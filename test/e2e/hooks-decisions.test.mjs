// End-to-end: decision hooks — the wrapper's onBeforeCreate / onBeforeAttach and
// the config's before_new_session / before_attach commands — refuse with a reason
// (exit 4, nothing created) or let the operation go on; a decision that fails or
// times out follows [hooks] decision_failure. Also the hook-command burst and
// timeout rules: waiting for a slot does not count against a command's timeout,
// and a timed-out command's whole process group is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAlive, makeSandbox, waitUntil } from '../support/sandbox.mjs';
import { ProtocolClient, attachRequest, daemonStatus, ensureDaemon, makeHookSandbox, readLog, readRecords, waitForLog, waitForStatus } from '../support/hooks-recorder.mjs';

const toml = (s) => JSON.stringify(s);

test('onBeforeCreate refusing: exit 4 with the reason, nothing created; onBeforeAttach sees attach, force and view', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_DECIDE: 'reject:not on a Friday' } });
  const r = await sb.run(['attach', '-b', 'fri']);
  assert.equal(r.code, 4);
  assert.equal(r.stderr, "tshpool: session 'fri' refused: not on a Friday\n");
  assert.deepEqual(await sb.list(), []);
  assert.equal(existsSync(`${sb.runtimeDir}/tshpool/sessions/fri`), false, 'no session directory was made');
  const term = sb.spawnTerm(['attach', 'fri']);
  const exit = await term.waitExit();
  assert.equal(exit.exitCode, 4);
  assert.match(term.clean, /session 'fri' refused: not on a Friday/);
  const st = await daemonStatus(sb);
  assert.deepEqual({ rejected: st.decisions.rejected, continued: st.decisions.continued }, { rejected: 2, continued: 0 });
  const [req] = readRecords(sb).filter((x) => x.hook === 'onBeforeCreate');
  assert.deepEqual({ ...req.request, clientPid: 0 }, { kind: 'create', session: 'fri', clientPid: 0, cmd: null, dir: sb.home, ttlMs: null, cols: 80, rows: 24 });
  assert.doesNotMatch(readLog(sb), /session created/);
});

test('onBeforeAttach is asked for attach, force (-f) and view, with the client pid', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_DECIDE: '' } });
  await sb.runOk(['attach', '-b', 'a']);
  const first = await sb.attachShell('a');
  const forced = await sb.attachShell('a', { args: ['-f'] });
  await first.waitExit();
  const viewer = sb.spawnTerm(['view', 'a']);
  await waitUntil(() => readRecords(sb).filter((x) => x.hook === 'onBeforeAttach').length === 3, { message: 'three attach decisions' });
  const kinds = readRecords(sb).filter((x) => x.hook === 'onBeforeAttach').map((x) => [x.request.kind, x.request.clientPid]);
  assert.deepEqual(kinds, [
    ['attach', first.pid],
    ['force', forced.pid],
    ['view', viewer.pid],
  ]);
  assert.equal(readRecords(sb).filter((x) => x.hook === 'onBeforeCreate').length, 1, 'only the first attach created');
  viewer.kill('SIGKILL');
});

test('a decision hook that throws or returns nonsense: decision_failure = "continue" (default) goes on, logged and counted', async (t) => {
  for (const how of ['throw', 'bad']) {
    const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_DECIDE: how } });
    await sb.runOk(['attach', '-b', 'x']);
    assert.deepEqual((await sb.list()).map((s) => s.name), ['x']);
    await waitForLog(sb, /WARN +a decision could not be made; applying decision_failure decision="onBeforeCreate" session="x" failure="the decision hook failed: /);
    const st = await daemonStatus(sb);
    assert.equal(st.decisions.failures, 1);
    assert.match(st.decisions.lastFailure, how === 'throw' ? /test: onBeforeCreate threw on purpose/ : /returned 42; return \{ reject: 'reason' \}, \{ continue: true \} or nothing/);
  }
});

test('a decision hook that hangs: decision_timeout bounds the wait; decision_failure = "reject" refuses, "continue" goes on', async (t) => {
  for (const policy of ['reject', 'continue']) {
    const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_DECIDE: 'hang' }, config: `[hooks]\ndecision_timeout = "300ms"\ndecision_failure = "${policy}"\n` });
    const r = await sb.run(['attach', '-b', 'h']);
    assert.ok(r.ms < 5000, `the attach waited ${r.ms} ms`);
    if (policy === 'reject') {
      assert.equal(r.code, 4);
      assert.match(r.stderr, /^tshpool: session 'h' refused: .*300 ms.* \(decision_failure = "reject"\)\n$/);
      assert.deepEqual(await sb.list(), []);
    } else {
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await sb.list()).map((s) => s.name), ['h']);
    }
    assert.equal((await daemonStatus(sb)).decisions.failures, 1);
  }
});

test('before_new_session / before_attach commands: exit 0 goes on, non-zero refuses with the first line of output; the request is on stdin', async (t) => {
  const sb = await makeSandbox(t);
  const seen = sb.path('seen.jsonl');
  sb.writeConfig(
    [
      '[hooks]',
      `before_new_session = [${toml(`sh -c 'cat >> ${seen}; case $TSHPOOL_SESSION_NAME in no*) echo "names starting with no are not allowed"; echo second line; exit 1;; esac'`)}]`,
      `before_attach = [${toml(`sh -c 'grep -q "\\"kind\\":\\"view\\"" && { echo nobody watches >&2; exit 3; }; exit 0'`)}]`,
      '',
    ].join('\n'),
  );
  await ensureDaemon(sb);
  const refused = await sb.run(['attach', '-b', 'nope']);
  assert.equal(refused.code, 4);
  assert.equal(refused.stderr, "tshpool: session 'nope' refused: names starting with no are not allowed\n");
  await sb.runOk(['attach', '-b', 'yes']);
  const request = JSON.parse(readFileSync(seen, 'utf8').split('\n')[1]);
  assert.equal(request.kind, 'create');
  assert.equal(request.session, 'yes');
  const term = await sb.attachShell('yes');
  term.write('echo in$((2+2))\r');
  await term.waitFor('in4');
  const view = await sb.run(['view', 'yes']);
  assert.equal(view.code, 4);
  assert.equal(view.stderr, "tshpool: session 'yes' refused: nobody watches\n");
  const st = await daemonStatus(sb);
  assert.deepEqual({ rejected: st.decisions.rejected, continued: st.decisions.continued }, { rejected: 2, continued: 2 });
});

test('a burst of hook commands: 40 sessions killed at once, each command 0.3 s with timeout 1s: all 40 run (waiting for a slot does not count)', async (t) => {
  const sb = await makeSandbox(t);
  const dir = sb.path('ran');
  sb.writeConfig(`[hooks]\ntimeout = "1s"\non_shell_disconnect = [${toml(`sh -c 'sleep 0.3; touch ${dir}-$TSHPOOL_SESSION_NAME'`)}]\n`);
  await ensureDaemon(sb);
  const names = Array.from({ length: 40 }, (_, i) => `b${i}`);
  await Promise.all(
    names.map(async (name) => {
      const c = await ProtocolClient.open(sb);
      c.send(attachRequest(name, { background: true, cmd: ['sleep', '600'] }));
      assert.equal((await c.next()).type, 'attached');
      c.close();
    }),
  );
  const started = Date.now();
  await sb.runOk(['kill', ...names]);
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0 && s.hooks['on_shell_disconnect command']?.calls === 40, { timeout: 30_000 });
  const h = st.hooks['on_shell_disconnect command'];
  assert.deepEqual({ errors: h.errors, timeouts: h.timeouts, dropped: h.dropped }, { errors: 0, timeouts: 0, dropped: 0 });
  const ran = readdirSync(sb.dir).filter((f) => f.startsWith('ran-'));
  assert.equal(ran.length, 40, 'every command ran to its end');
  assert.ok(Date.now() - started >= 2500, '40 commands of 0.3 s, 4 at a time, waited their turn well past the 1 s timeout');
});

test('a hook command that times out is killed with its whole process group (a backgrounded child too)', async (t) => {
  const sb = await makeSandbox(t);
  const pidFile = sb.path('child.pid');
  sb.writeConfig(`[hooks]\ntimeout = "500ms"\non_new_session = [${toml(`sh -c 'sleep 33 & echo $! > ${pidFile}; wait'`)}]\n`);
  await ensureDaemon(sb);
  await sb.runOk(['attach', '-b', 'g']);
  const pid = Number(await waitUntil(() => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : null), { message: 'the background child' }));
  await waitForLog(sb, /WARN +hook command timed out; killed its process group hook="on_new_session command" session="g"/);
  await waitUntil(() => !isAlive(pid), { timeout: 5000, message: `the backgrounded sleep (pid ${pid}) to be killed with its group` });
});
