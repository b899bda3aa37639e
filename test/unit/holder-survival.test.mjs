/**
 * Sessions outlive the daemon: a client (a stand-in daemon in its own process) is
 * SIGKILLed and the next one adopts what the holder kept, with the same shells.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { holderSandbox, outputAndExit, readUntil, shell, SIZE } from '../support/holder.mjs';
import { isAlive, waitUntil } from '../support/sandbox.mjs';

/** Starts a child client with `sessions`, waits until it spawned them, SIGKILLs it; returns what it spawned. */
async function spawnThenKillDaemon(h, sessions) {
  const child = h.child(sessions);
  const { sessions: spawned, holderPid } = await child.ready();
  child.process.kill('SIGKILL');
  await new Promise((resolve) => child.process.once('exit', resolve));
  await waitUntil(() => h.log().includes('closed: peer closed the connection'), { message: 'the holder to see its daemon go' });
  return { spawned, holderPid };
}

test('a shell survives its daemon being SIGKILLed: the next client adopts it, same pid, and talks to it', async (t) => {
  const h = await holderSandbox(t);
  const { spawned, holderPid } = await spawnThenKillDaemon(h, [{ key: 'cat', script: 'exec cat' }]);
  const catPid = spawned[0].pid;
  assert.ok(isAlive(catPid), 'the shell outlived the client that spawned it');

  const client = h.client();
  const adoption = await client.start();
  assert.equal(adoption.holderPid, holderPid, 'the same holder');
  assert.deepEqual(adoption.unusable, []);
  assert.deepEqual(adoption.sessions.map((p) => [p.key, p.pid]), [['cat', catPid]]);
  const [pty] = adoption.sessions;
  const echoed = readUntil(pty, /ping\r\nping\r\n/); // the terminal's echo, then cat's copy
  pty.write('ping\r');
  await echoed;
  const done = outputAndExit(pty);
  pty.write('\x04'); // EOF: cat exits 0
  assert.equal((await done).exitCode, 0);
  pty.dispose();
  assert.match(h.log(), /adopted by pid \d+ \(1 sessions\)/);
});

test('a shell that exits while no daemon is connected: the next client gets its true status and its last output', async (t) => {
  const h = await holderSandbox(t);
  const flag = join(h.dir, 'go');
  const script = `while [ ! -e ${flag} ]; do sleep 0.02; done; echo "last words"; exit 42`;
  const { spawned } = await spawnThenKillDaemon(h, [
    { key: 'code', script },
    { key: 'signal', script: 'exec sleep 100' },
    { key: 'alive', script: 'exec cat' },
  ]);
  const pid = Object.fromEntries(spawned.map((s) => [s.key, s.pid]));
  writeFileSync(flag, '');
  process.kill(pid.signal, 'SIGTERM');
  await waitUntil(() => h.log().includes(`pid ${pid.code} exited: code 42`) && h.log().includes(`pid ${pid.signal} exited: code 0 signal 15`), {
    message: 'the holder to reap both during the gap',
  });

  const client = h.client();
  const { sessions } = await client.start();
  const byKey = Object.fromEntries(sessions.map((p) => [p.key, p]));
  assert.deepEqual(Object.keys(byKey).sort(), ['alive', 'code', 'signal']);
  const code = await outputAndExit(byKey.code);
  assert.equal(code.exitCode, 42, 'the exit code collected during the gap');
  assert.equal(code.statusLost, false);
  assert.match(code.out, /last words\r\n/, 'output printed during the gap was kept by the pty');
  const signal = await outputAndExit(byKey.signal);
  assert.deepEqual([signal.exitCode, signal.signal], [0, 15]);
  assert.ok(isAlive(pid.alive), 'a running session is not reported as exited');
  for (const p of sessions) p.dispose();
});

test('a second daemon saying hello supersedes the first; both keep working pty fds', async (t) => {
  const h = await holderSandbox(t);
  const first = h.client();
  await first.start();
  const pty1 = await first.spawn('cat', shell('exec cat'), SIZE);
  const superseded = new Promise((resolve) => first.once('superseded', resolve));
  let lost = null;
  first.on('lost', (reason) => (lost = reason));

  const second = h.client();
  const { sessions } = await second.start();
  await superseded;
  assert.deepEqual(sessions.map((p) => [p.key, p.pid]), [['cat', pty1.pid]]);
  assert.match(h.log(), /adopted by pid \d+ \(1 sessions\)/);
  // The new daemon drives the session; the old one's requests no longer reach the holder.
  await assert.rejects(first.spawn('other', shell('true'), SIZE), /another daemon took over the holder/);
  assert.equal(lost, null, 'being superseded is not losing the holder');
  const [pty2] = sessions;
  const echoed = readUntil(pty2, /hello\r\nhello\r\n/);
  pty2.write('hello\r');
  await echoed;
  pty1.release(); // the old daemon lets go of its copy: the session stays
  const done = outputAndExit(pty2);
  pty2.kill('SIGKILL');
  assert.equal((await done).signal, 9, 'exits are reported to the daemon that took over');
  pty2.dispose();
});

test('a spawn settled after its requester was superseded is handed to the new daemon', async (t) => {
  const h = await holderSandbox(t);
  const first = h.client();
  const { holderPid } = await first.start();
  // With the holder stopped, the first daemon's SPAWN and the second one's HELLO
  // both wait in their sockets: the holder forks first, then takes the hello, and
  // the exec settles with the second daemon in charge.
  process.kill(holderPid, 'SIGSTOP');
  t.after(() => {
    if (isAlive(holderPid)) process.kill(holderPid, 'SIGCONT'); // the test failed while it was stopped
  });
  const requested = first.spawn('late', shell('exec cat'), SIZE).then(
    () => 'spawned',
    (err) => err.message,
  );
  const second = h.client();
  const adopted = new Promise((resolve) => second.once('adopted', resolve));
  const started = second.start();
  await waitUntil(() => second.connected, { message: 'the second client to be connected (in the backlog) and to have sent its hello' });
  process.kill(holderPid, 'SIGCONT');
  const { sessions } = await started;
  assert.deepEqual(sessions, [], 'the spawn was still starting when the list was sent');
  const late = await adopted;
  assert.equal(late.key, 'late');
  assert.match(await requested, /connection to the holder ended/, 'the superseded requester is told its spawn did not reach it');
  const echoed = readUntil(late, /x\r\nx\r\n/);
  late.write('x\r');
  await echoed;
  late.dispose();
});

test('SIGTERM ends the holder but none of its sessions; their statuses are then reported as lost, never as 0', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  const { holderPid } = await client.start();
  const pty = await client.spawn('cat', shell('exec cat'), SIZE);
  const lost = new Promise((resolve) => client.once('lost', resolve));
  process.kill(holderPid, 'SIGTERM');
  assert.match(await lost, /closed/);
  await waitUntil(() => !isAlive(holderPid), { message: 'the holder to exit' });
  assert.match(h.log(), /exiting on signal 15, 1 sessions held/);
  assert.ok(isAlive(pty.pid), 'the session outlived the holder: this process still has its master');
  const echoed = readUntil(pty, /still\r\nstill\r\n/);
  pty.write('still\r');
  await echoed;
  const done = outputAndExit(pty);
  pty.write('\x04');
  assert.deepEqual(await done.then(({ exitCode, statusLost }) => ({ exitCode, statusLost })), { exitCode: -1, statusLost: true });
  pty.dispose();
});

test('start() says "holder unavailable" and why when the holder cannot run', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client({ executable: '/nonexistent/tshpool-holder' });
  await assert.rejects(client.start(), /^HolderUnavailableError: holder unavailable: cannot run \/nonexistent\/tshpool-holder: spawn \/nonexistent\/tshpool-holder ENOENT/);
  const bad = h.client({ executable: '/bin/false' });
  await assert.rejects(bad.start(), /holder unavailable: \/bin\/false failed to start: exit status 1/);
});
