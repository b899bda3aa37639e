// End-to-end: README "## Hooks" promises not checked elsewhere — a hook's context
// session handle (send / capture / list), onHook single dispatch, the variables
// and output limit of hook commands, events queued while the hook host is down,
// and a decision asked while it is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { makeSandbox, waitUntil, detachByKeys } from '../support/sandbox.mjs';
import { ProtocolClient, attachRequest, daemonStatus, ensureDaemon, makeHookSandbox, readLog, waitForLog, waitForRecords } from '../support/hooks-recorder.mjs';

const readIf = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
const toml = (s) => JSON.stringify(s);

test("a hook's context session handle: send types into the session, capture shows its output, list lists it", async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_HANDLE: '1' } });
  await sb.runOk(['attach', '-b', 'handled']);
  const records = await waitForRecords(sb, (r) => r.some((x) => x.hook === 'handle'), { timeout: 20_000 });
  const entry = records.find((x) => x.hook === 'handle');
  assert.equal(entry.error, undefined, entry.error);
  assert.equal(entry.name, 'handled');
  assert.match(entry.capture, /^HANDLE42$/m, `capture: ${JSON.stringify(entry.capture)}`);
  assert.ok(Array.isArray(entry.list), JSON.stringify(entry.list));
  assert.deepEqual(entry.list.map((s) => s.name), ['handled']);
  // What the handle sent really went to the session.
  const cap = await sb.runOk(['capture', 'handled']);
  assert.match(cap.stdout, /^HANDLE42$/m);
});

test('onHook is called instead of the specific method (single dispatch); onEvent still runs after it', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_ONHOOK: '1' } });
  await sb.runOk(['attach', '-b', 'single']);
  await sb.runOk(['kill', 'single']);
  const records = await waitForRecords(sb, (r) => r.some((x) => x.hook === 'onEvent' && x.event.type === 'session.removed'));
  const calls = records.map((x) => [x.hook, x.event.type]);
  assert.deepEqual(calls, [
    ['onHook', 'session.created'],
    ['onEvent', 'session.created'],
    ['onHook', 'session.removed'],
    ['onEvent', 'session.removed'],
  ]);
  const st = await daemonStatus(sb);
  assert.ok(st.hookHost.methods.includes('onHook'), JSON.stringify(st.hookHost.methods));
});

test('on_shell_disconnect commands get TSHPOOL_EVENT=session.removed, TSHPOOL_REASON=exit and TSHPOOL_EXIT_CODE when the shell exits while detached', async (t) => {
  const sb = await makeSandbox(t);
  const out = sb.path('removed');
  sb.writeConfig(['[hooks]', `on_shell_disconnect = [${toml(`sh -c 'env > ${out}.tmp; mv ${out}.tmp ${out}.env'`)}]`, ''].join('\n'));
  await ensureDaemon(sb);
  const term = await sb.attachShell('ex');
  await detachByKeys(term);
  assert.deepEqual((await sb.list()).map((s) => [s.name, s.status]), [['ex', 'disconnected']]);
  await sb.runOk(['send', 'ex', '--keys', 'exit 3', 'Enter']);
  const env = await waitUntil(() => readIf(`${out}.env`), { message: 'the on_shell_disconnect command to finish' });
  const vars = Object.fromEntries(env.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(vars.TSHPOOL_HOOK, 'on_shell_disconnect');
  assert.equal(vars.TSHPOOL_EVENT, 'session.removed');
  assert.equal(vars.TSHPOOL_SESSION_NAME, 'ex');
  assert.equal(vars.TSHPOOL_REASON, 'exit');
  assert.equal(vars.TSHPOOL_EXIT_CODE, '3');
});

test('a hook command printing 70000 bytes: the daemon log keeps 64 KiB and says "[... 4464 more bytes of output not kept]"', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig(['[hooks]', `on_new_session = [${toml(`sh -c 'head -c 70000 /dev/zero | tr "\\\\0" x; exit 1'`)}]`, ''].join('\n'));
  await ensureDaemon(sb);
  await sb.runOk(['attach', '-b', 'loud']);
  const m = await waitForLog(sb, /\[\.\.\. (\d+) more bytes of output not kept\]/);
  assert.equal(Number(m[1]), 70000 - 65536);
  const log = readLog(sb);
  // What was kept: exactly 64 KiB of the output, not more.
  const kept = /x{1000,}/.exec(log.replace(/\\n/g, '\n'));
  assert.ok(kept, 'the kept output is in the log');
  assert.equal(kept[0].length, 65536);
});

/** Creates `names` through raw protocol connections, as fast as the daemon answers. */
async function createRaw(sb, names) {
  for (const name of names) {
    const c = await ProtocolClient.open(sb);
    c.send(attachRequest(name, { background: true }));
    const reply = await c.next();
    c.close();
    assert.equal(reply.type, 'attached', JSON.stringify(reply));
  }
}

test('events that arrive while the hook host is down wait in order and reach the restarted host', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_EXIT: 'onNewSession', TSHPOOL_TEST_VICTIM: 'victim' } });
  const oldHost = (await daemonStatus(sb)).hookHost.pid;
  await sb.runOk(['attach', '-b', 'victim']);
  await waitUntil(() => /hook host died; restarting it/.test(readLog(sb)), { interval: 2, message: 'the hook host to die' });
  const names = ['q1', 'q2', 'q3', 'q4', 'q5'];
  await createRaw(sb, names);
  // (A connection must make its request within a second of its hello: open it now.)
  const status = await ProtocolClient.open(sb);
  status.send({ type: 'status' });
  const statusReply = await status.next();
  const st = statusReply.status;
  assert.ok(st, JSON.stringify(statusReply));
  // They were created while the host was down (else this test proves nothing).
  assert.notEqual(st.hookHost.state, 'running', JSON.stringify(st.hookHost));
  assert.equal(st.hookHost.queued, names.length, JSON.stringify(st.hookHost));
  const records = await waitForRecords(sb, (r) => names.every((n) => r.some((x) => x.hook === 'onNewSession' && x.name === n)), { timeout: 15_000 });
  const created = records.filter((x) => x.hook === 'onNewSession' && x.name !== 'victim');
  assert.deepEqual(created.map((x) => x.name), names, 'in creation order, once each');
  const newHost = (await daemonStatus(sb)).hookHost.pid;
  assert.notEqual(newHost, oldHost);
  for (const r of created) assert.equal(r.pid, newHost, 'delivered by the new host');
  const seqs = created.map((x) => x.event.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
});

test('a decision asked while the hook host is down fails at once and follows decision_failure = "reject"', async (t) => {
  const sb = await makeHookSandbox(t, {
    env: { TSHPOOL_TEST_DECIDE: '', TSHPOOL_TEST_EXIT: 'onNewSession', TSHPOOL_TEST_VICTIM: 'victim' },
    config: '[hooks]\ndecision_timeout = "5s"\ndecision_failure = "reject"\n',
  });
  await sb.runOk(['attach', '-b', 'victim']);
  await waitUntil(() => /hook host died; restarting it/.test(readLog(sb)), { interval: 2, message: 'the hook host to die' });
  // Asked within the restart backoff (100 ms after a first crash), over a raw connection (a CLI process starts too slowly).
  const started = Date.now();
  const c = await ProtocolClient.open(sb);
  c.send(attachRequest('asked', { background: true }));
  const reply = await c.next();
  const ms = Date.now() - started;
  assert.equal(reply.type, 'refused', JSON.stringify(reply));
  assert.match(reply.reason, /hook host is down/);
  assert.match(reply.reason, /decision_failure = "reject"/);
  assert.ok(ms < 1000, `refused after ${ms} ms (decision_timeout is 5 s)`);
  assert.deepEqual((await sb.list()).map((s) => s.name), ['victim'], 'nothing created');
  await waitForLog(sb, /a decision could not be made; applying decision_failure decision="onBeforeCreate" session="asked"/);
});
