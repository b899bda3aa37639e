// End-to-end: the example wrappers in examples/ work as documented, used exactly
// like tshpool (they are the sandbox's bin, so the daemon is the wrapper).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, NODE, makeSandbox, procCmdline, waitUntil } from '../support/sandbox.mjs';
import { DETACH, EXAMPLES, ensureDaemon } from '../support/hooks-recorder.mjs';

const TELEMETRY = join(EXAMPLES, 'telemetry.mjs');
const IDLE = join(EXAMPLES, 'run-after-disconnect.mjs');

function jsonLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('examples/telemetry.mjs appends every event as a JSON line to $TSHPOOL_TELEMETRY_FILE', async (t) => {
  const sb = await makeSandbox(t, { bin: TELEMETRY });
  const file = sb.path('telemetry.jsonl');
  sb.env.TSHPOOL_TELEMETRY_FILE = file;
  await ensureDaemon(sb);
  const a = await sb.attachShell('tel');
  const wait = (n) => waitUntil(() => jsonLines(file).length >= n && jsonLines(file), { message: `${n} telemetry lines` });
  await wait(1);
  const daemonPid = await sb.daemonPid();
  assert.ok(!procCmdline(daemonPid).includes(TELEMETRY), 'the daemon is not the telemetry wrapper');
  const { hookHost } = JSON.parse((await sb.runOk(['status', '--json'])).stdout);
  assert.ok(procCmdline(hookHost.pid).includes(TELEMETRY), 'the hook host is');
  a.write(DETACH);
  await a.waitExit();
  await wait(2);
  const busyHolder = await sb.attachShell('tel');
  await wait(3);
  const busy = sb.spawnTerm(['attach', 'tel']);
  assert.equal((await busy.waitExit()).exitCode, 3);
  await wait(4);
  busyHolder.write('exit 3\r');
  await busyHolder.waitExit();
  const lines = await wait(7);
  assert.deepEqual(
    lines.map((e) => [e.seq, e.type, e.session, e.reason ?? null]),
    [
      [1, 'session.created', 'tel', null],
      [2, 'session.attached', 'tel', null],
      [3, 'session.detached', 'tel', 'detach'],
      [4, 'session.attached', 'tel', null],
      [5, 'session.busy', 'tel', null],
      [6, 'session.detached', 'tel', 'exit'],
      [7, 'session.removed', 'tel', 'exit'],
    ],
  );
  assert.equal(lines[6].exitCode, 3);
  for (const e of lines) assert.ok(Number.isInteger(e.at) && Number.isInteger(e.shellPid));
  assert.equal(lines[0].clientPid, a.pid);
  assert.equal(lines[4].clientPid, busy.pid);
});

test('examples/telemetry.mjs: unawaited POSTs reach a live endpoint, and to a dead one they hurt nothing', async (t) => {
  // A live endpoint: every event arrives as JSON.
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c)).on('end', () => {
      received.push(JSON.parse(body));
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const sb = await makeSandbox(t, { bin: TELEMETRY });
  sb.env.TSHPOOL_TELEMETRY_URL = `http://127.0.0.1:${server.address().port}/events`;
  await sb.runOk(['attach', '-b', 'live']);
  await waitUntil(() => received.some((e) => e.type === 'session.created' && e.session === 'live'), { message: 'the POSTed event' });

  // A dead endpoint (nothing listens on port 9): every request fails unawaited.
  const dead = await makeSandbox(t, { bin: TELEMETRY });
  dead.env.TSHPOOL_TELEMETRY_URL = 'http://127.0.0.1:9/events';
  await ensureDaemon(dead);
  const daemonPid = await dead.daemonPid();
  const term = await dead.attachShell('d1');
  await dead.runOk(['attach', '-b', 'd2']);
  const status = await waitUntil(async () => {
    const s = JSON.parse((await dead.runOk(['status', '--json'])).stdout);
    return s.hookHost.escapedErrors >= 3 ? s : null;
  }, { message: 'the failed requests to be counted' });
  assert.equal(status.pid, daemonPid, 'the same daemon');
  assert.equal(status.hookHost.restarts, 0, 'an unhandled rejection does not even restart the hook host');
  assert.match(readFileSync(dead.logPath, 'utf8'), /ERROR +an unhandled rejection escaped a hook hook="onEvent" session="d1" error="fetch failed"/);
  term.write('echo still$((40+2))\r');
  await term.waitFor('still42');
  assert.deepEqual((await dead.list()).map((s) => s.name), ['d1', 'd2']);
});

test('examples/quota.mjs refuses a new session beyond $TSHPOOL_MAX_SESSIONS with exit 4 and a reason; reattaching still works', async (t) => {
  const sb = await makeSandbox(t, { bin: join(EXAMPLES, 'quota.mjs') });
  sb.env.TSHPOOL_MAX_SESSIONS = '2';
  await sb.runOk(['attach', '-b', 'a']);
  await sb.runOk(['attach', '-b', 'b']);
  const refused = await sb.run(['attach', '-b', 'c']);
  assert.equal(refused.code, 4, refused.stderr);
  assert.equal(refused.stderr, "tshpool: session 'c' refused: quota: 2 sessions exist already (a b); kill one first\n");
  assert.deepEqual((await sb.list()).map((s) => s.name), ['a', 'b'], 'nothing was created');
  const again = await sb.attachShell('a');
  again.write('echo in$((1+1))\r');
  await again.waitFor('in2');
});

test('examples/run-after-disconnect.mjs runs $TSHPOOL_IDLE_COMMAND $TSHPOOL_IDLE_AFTER after a detach', async (t) => {
  const sb = await makeSandbox(t, { bin: IDLE });
  const flag = sb.path('idle-ran');
  Object.assign(sb.env, { TSHPOOL_IDLE_AFTER: '1s', TSHPOOL_IDLE_COMMAND: `echo "$TSHPOOL_SESSION_NAME" > ${flag}` });
  await ensureDaemon(sb);
  const a = await sb.attachShell('idle');
  a.write(DETACH);
  await a.waitExit();
  const detachedAt = Date.now();
  await waitUntil(() => existsSync(flag) && readFileSync(flag, 'utf8') === 'idle\n', { timeout: 8000, message: 'the idle command' });
  const after = Date.now() - detachedAt;
  // Measured from the client's exit, which trails the daemon's disconnect a little.
  assert.ok(after >= 500 && after < 5000, `the command ran ${after} ms after the detach`);
});

test('a command that a hook runs can use tshpool itself (the hook host\'s variables are not inherited)', async (t) => {
  const sb = await makeSandbox(t, { bin: IDLE });
  const out = sb.path('listed');
  Object.assign(sb.env, { TSHPOOL_IDLE_AFTER: '100ms', TSHPOOL_IDLE_COMMAND: `${NODE} ${BIN} list --names > ${out} 2>&1` });
  const a = await sb.attachShell('idle');
  a.write(DETACH);
  await a.waitExit();
  await waitUntil(() => existsSync(out) && readFileSync(out, 'utf8') === 'idle\n', { timeout: 8000, message: `the hook's tshpool list (got ${existsSync(out) ? JSON.stringify(readFileSync(out, 'utf8')) : 'nothing'})` });
});

test('examples/run-after-disconnect.mjs does not run the command when the user reattaches within the window', async (t) => {
  const sb = await makeSandbox(t, { bin: IDLE });
  const flag = sb.path('idle-ran');
  Object.assign(sb.env, { TSHPOOL_IDLE_AFTER: '2s', TSHPOOL_IDLE_COMMAND: `touch ${flag}` });
  await ensureDaemon(sb);
  const a = await sb.attachShell('idle');
  a.write(DETACH);
  await a.waitExit();
  const detachedAt = Date.now();
  await sleep(300); // the user comes back within the 2 s window
  const b = await sb.attachShell('idle');
  // Proving a negative: wait past the window (3 s after the detach) and check nothing ran.
  await sleep(Math.max(0, detachedAt + 3000 - Date.now()));
  assert.equal(existsSync(flag), false, 'the command ran although the user reattached');
  // Control: the command does run after a detach nobody cancels (so its absence above meant something).
  b.write(DETACH);
  await b.waitExit();
  await waitUntil(() => existsSync(flag), { timeout: 8000, message: 'the idle command after the second detach' });
});
