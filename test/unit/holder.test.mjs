/**
 * tshpool-holder and its client, standalone: a real holder in a private temp dir,
 * real shells on real ptys. See docs/architecture.md ("The holder").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { holderSandbox, outputAndExit, readUntil, shell, SIZE } from '../support/holder.mjs';
import { isAlive, waitUntil } from '../support/sandbox.mjs';

test('a shell spawned through the holder talks over its master and reports its exit code', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  const { sessions, holderPid } = await client.start();
  assert.deepEqual(sessions, [], 'a new holder holds nothing');
  assert.ok(isAlive(holderPid));
  assert.equal(statSync(h.socketPath).mode & 0o777, 0o600, 'the socket is private');
  const exitedEvents = [];
  client.on('exited', (e) => exitedEvents.push(e));

  const pty = await client.spawn('s1', shell('echo hi; read x; echo "got $x"; exit 7'), SIZE);
  assert.ok(pty.pid > 0 && isAlive(pty.pid));
  const done = outputAndExit(pty);
  await readUntil(pty, /hi\r\n/);
  assert.equal(pty.write('hello\r'), true);
  const { exitCode, signal, statusLost, out } = await done;
  assert.equal(exitCode, 7);
  assert.equal(signal, 0);
  assert.equal(statusLost, false);
  assert.match(out, /got hello\r\n/, 'what was written reached the shell, and its reply came back');
  assert.deepEqual(exitedEvents, [{ key: 's1', pid: pty.pid, exitCode: 7, signal: 0 }]);
  pty.dispose();
  assert.match(h.log(), new RegExp(`spawned pid ${pty.pid} for s1`));
});

test('a shell killed by a signal reports the signal, not an exit code', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  const self = await client.spawn('self', shell('echo up; kill -KILL $$'), SIZE);
  assert.deepEqual(await outputAndExit(self).then(({ exitCode, signal }) => ({ exitCode, signal })), { exitCode: 0, signal: 9 });

  const sleeper = await client.spawn('sleeper', shell('echo ready; exec sleep 100'), SIZE);
  const done = outputAndExit(sleeper);
  await readUntil(sleeper, /ready/);
  sleeper.kill('SIGTERM');
  const e = await done;
  assert.deepEqual([e.exitCode, e.signal], [0, 15], 'kill() goes through the holder to the program');
});

test('a spawn that cannot start says why: ENOENT with the path (program or directory)', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  await assert.rejects(client.spawn('a', { ...shell(''), file: '/nonexistent/sh', args: [] }, SIZE), (err) => {
    assert.equal(err.code, 'ENOENT');
    assert.match(err.message, /cannot start shell: ENOENT: execve \/nonexistent\/sh: No such file or directory/);
    return true;
  });
  await assert.rejects(client.spawn('b', shell('true', '/nonexistent/dir'), SIZE), /ENOENT: chdir \/nonexistent\/dir/);
  await assert.rejects(client.spawn('c', { ...shell(''), file: 'no-such-program-tshpool', args: [] }, SIZE), /ENOENT: execve no-such-program-tshpool/);
  // A program found through the PATH of the spawn's environment.
  const ok = await client.spawn('d', { file: 'sh', args: ['-c', 'exit 3'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' }, SIZE);
  assert.equal((await outputAndExit(ok)).exitCode, 3);
});

test('every line a program prints before it exits arrives before its exit is reported', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  for (let round = 0; round < 3; round++) {
    const pty = await client.spawn(`seq${round}`, shell('seq 1 20000; exit 4'), SIZE);
    const { exitCode, out } = await outputAndExit(pty);
    assert.equal(exitCode, 4);
    assert.match(out, /\r\n20000\r\n$/, `round ${round}: the last line arrived`);
    assert.equal(out.match(/^\d+\r$/gm).length, 20000, `round ${round}: every line arrived`);
    pty.dispose();
  }
});

test('resize sets the window size the program sees; the environment and directory are the spawn\'s', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  const pty = await client.spawn('r', { ...shell('stty size; echo "env=$FOO dir=$(pwd)"; read x; stty size'), env: { PATH: '/usr/bin:/bin', FOO: 'bar' }, cwd: '/usr' }, { cols: 91, rows: 33 });
  const done = outputAndExit(pty);
  await readUntil(pty, /dir=/);
  pty.resize(120, 40);
  pty.write('\r');
  const { out } = await done;
  assert.match(out, /^33 91\r\n/, 'the size given at spawn');
  assert.match(out, /env=bar dir=\/usr\r\n/);
  assert.match(out, /40 120\r\n$/, 'the size after resize()');
});

test('input to a program that does not read is queued without blocking the event loop, up to a bound', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  const pty = await client.spawn('deaf', shell('echo ready; exec sleep 100'), SIZE);
  await readUntil(pty, /ready/);
  pty.pause(); // nobody reads the echo either
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let accepted = 0;
  const before = Date.now();
  while (pty.write(chunk)) accepted += chunk.length;
  assert.ok(Date.now() - before < 2000, 'writes return at once');
  assert.ok(accepted >= 8 * 1024 * 1024 - chunk.length, `accepted ${accepted} bytes before refusing`);
  assert.ok(pty.pendingInputBytes > 0);
  // The event loop keeps turning while the queue waits.
  await new Promise((resolve) => setTimeout(resolve, 20));
  pty.dispose();
  assert.equal(pty.write('x'), false, 'a disposed pty refuses input');
  await waitUntil(() => !isAlive(pty.pid), { message: 'the program to get SIGHUP once every master copy is closed' });
});

test('a program that exits while its output is paused still delivers it all, then its exit', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  await client.start();
  // 1000 lines (5 KB) fit in the kernel's pty buffer (16-24 KiB), so the program exits unread.
  const pty = await client.spawn('paused', shell('seq 1 1000; exit 2'), SIZE);
  pty.pause();
  let exiting = false;
  pty.onExiting(() => (exiting = true));
  const done = outputAndExit(pty);
  await waitUntil(() => h.log().includes(`pid ${pty.pid} exited`), { message: 'the holder to reap the program' });
  const { exitCode, out } = await done;
  assert.equal(exiting, true, 'onExiting told the reader to stop pacing');
  assert.equal(exitCode, 2);
  assert.match(out, /\r\n1000\r\n$/);
});
