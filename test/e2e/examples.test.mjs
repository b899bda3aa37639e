// End-to-end: the example wrappers in examples/ work as documented, used exactly
// like tshpool (they are the sandbox's bin, so the daemon is the wrapper).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSandbox, procCmdline, waitUntil } from '../support/sandbox.mjs';
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
  assert.ok(procCmdline(daemonPid).includes(TELEMETRY), 'the daemon is the telemetry wrapper');
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
  const lines = await wait(6);
  // The last two events come from one moment, and the example's appends are
  // concurrent (fs.promises.appendFile per event): their lines may land in either order.
  lines.push(...lines.splice(4).sort((x, y) => (x.type === 'client_disconnect' ? -1 : y.type === 'client_disconnect' ? 1 : 0)));
  assert.deepEqual(
    lines.map((e) => [e.type, e.sessionName, e.reason ?? null]),
    [
      ['new_session', 'tel', null],
      ['client_disconnect', 'tel', 'detach'],
      ['reattach', 'tel', null],
      ['busy', 'tel', null],
      ['client_disconnect', 'tel', 'exit'],
      ['shell_disconnect', 'tel', 'exit'],
    ],
  );
  assert.equal(lines[5].exitCode, 3);
  for (const e of lines) assert.ok(Number.isInteger(e.at) && Number.isInteger(e.shellPid));
  assert.equal(lines[0].clientPid, a.pid);
  assert.equal(lines[3].clientPid, busy.pid);
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
