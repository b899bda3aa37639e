// End-to-end: a client that stops reading (SIGSTOP) while its session floods
// output must block neither that shell, nor other sessions, nor the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { makeSandbox, shellReady, shellRun, waitUntil } from '../support/sandbox.mjs';

test('a SIGSTOPped client during a flood blocks neither its shell, nor another session, nor commands', async (t) => {
  const sb = await makeSandbox(t);
  const flooder = await sb.attachShell('flood');
  const other = await sb.attachShell('other');
  const done = sb.path('h', 'done');

  flooder.write(`seq 1 2000000; touch ${done}\r`);
  await flooder.waitFor('\n1000\r');
  process.kill(flooder.pid, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(flooder.pid, 'SIGCONT');
    } catch {
      // gone
    }
  });

  // While the flood runs (and its client reads nothing), the other session answers promptly...
  const t0 = Date.now();
  assert.equal(await shellRun(other, 'echo pong'), 'pong\n');
  const echoMs = Date.now() - t0;
  assert.ok(echoMs < 3000, `the other session answered after ${echoMs} ms`);
  // ...and so does the daemon, measured on the socket (no process start-up in the way).
  const c = await sb.connectRaw();
  const t1 = Date.now();
  const reply = await c.request({ type: 'list' });
  const listMs = Date.now() - t1;
  assert.equal(reply.type, 'list');
  assert.ok(listMs < 1000, `list answered after ${listMs} ms`);
  const r = await sb.run(['list']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^flood\s+attached/m);

  // The flood finishes although its client is stopped.
  await waitUntil(() => existsSync(done), { timeout: 60_000, message: 'the flood to finish (marker file)' });
  assert.equal(existsSync(done), true);

  // Resumed, the client catches up and still works. What the shell prints while the
  // client is still behind may be skipped (the client is resynchronised): retry.
  process.kill(flooder.pid, 'SIGCONT');
  await waitUntil(() => shellReady(flooder, 3000).then(() => true, () => false), { timeout: 30_000, message: 'the resumed client to show shell output' });
  assert.equal(await shellRun(flooder, 'echo back', { timeout: 20_000 }), 'back\n');
  assert.equal(flooder.exit, null);
  assert.equal((await sb.session('flood')).client_pid, flooder.pid);
});

/** `tshpool status --json`'s floodTurns. */
async function floodTurns(sb) {
  return JSON.parse((await sb.runOk(['status', '--json'])).stdout).floodTurns;
}

test('detached floods take turns, all finish with their output recorded, and attaching or viewing a waiting one lets it flow at once', async (t) => {
  const sb = await makeSandbox(t);
  const names = ['f1', 'f2', 'f3'];
  for (const name of names) await sb.runOk(['attach', '-b', '-c', `bash -c 'seq 1 1500000; echo END-${name}; exec sleep 600'`, name]);
  // While they flood, one reads and the others wait their turn.
  await waitUntil(async () => (await floodTurns(sb)).waiting.length > 0, { timeout: 20_000, message: 'a flooder to wait its turn' });
  const turns = await floodTurns(sb);
  assert.equal(new Set([turns.current, ...turns.waiting].filter(Boolean)).size, turns.waiting.length + (turns.current ? 1 : 0));
  // Every flood completes, and each restore screen has its last lines.
  for (const name of names) {
    await waitUntil(async () => (await sb.runOk(['capture', name])).stdout.includes(`END-${name}`), { timeout: 90_000, message: `${name} to finish` });
    assert.match((await sb.runOk(['capture', name])).stdout, new RegExp(`^1500000\\nEND-${name}$`, 'm'));
  }
  await waitUntil(async () => (await floodTurns(sb)).current === null, { message: 'the turns to end with the floods' });

  // Endless floods: whichever one waits, attaching it (or viewing it) resumes it at once.
  for (const name of ['y1', 'y2', 'y3']) await sb.runOk(['attach', '-b', '-c', 'yes', name]);
  const waitingOne = async () => {
    await waitUntil(async () => (await floodTurns(sb)).waiting.length >= 2, { timeout: 20_000, message: 'two flooders waiting' });
    return (await floodTurns(sb)).waiting[0];
  };
  const attached = await waitingOne();
  // Endless floods keep waiting, so the human status can be checked too.
  assert.match((await sb.runOk(['status'])).stdout, /^flooding: y\d \(detached, reading\); waiting their turn: y\d, y\d$/m);
  const term = sb.spawnTerm(['attach', attached]);
  const before = term.output.length;
  await waitUntil(() => term.output.length - before > 200_000, { timeout: 20_000, message: `${attached}'s output to flow to its client` });
  assert.ok(!(await floodTurns(sb)).waiting.includes(attached));
  const viewed = (await floodTurns(sb)).waiting[0];
  const view = sb.spawnTerm(['view', viewed]);
  await waitUntil(() => view.output.length > 200_000, { timeout: 20_000, message: `${viewed}'s output to flow to its viewer` });
  assert.ok(!(await floodTurns(sb)).waiting.includes(viewed));
  await sb.runOk(['kill', 'f1', 'f2', 'f3', 'y1', 'y2', 'y3']);
});

test('detached_flood_turns = false lets detached floods run side by side; turning it back on (a config reload) starts turns', async (t) => {
  const sb = await makeSandbox(t, { config: 'detached_flood_turns = false\n' });
  for (const name of ['y1', 'y2', 'y3']) await sb.runOk(['attach', '-b', '-c', 'yes', name]);
  // Absence can only be observed over a while: a dozen looks over ~1 s of flooding.
  for (let i = 0; i < 12; i++) {
    assert.deepEqual(await floodTurns(sb), { current: null, waiting: [] });
    await new Promise((r) => setTimeout(r, 50));
  }
  sb.writeConfig('detached_flood_turns = true\n');
  await waitUntil(async () => (await floodTurns(sb)).waiting.length > 0, { timeout: 20_000, message: 'turns to start after the reload' });
  await sb.runOk(['kill', 'y1', 'y2', 'y3']);
});
