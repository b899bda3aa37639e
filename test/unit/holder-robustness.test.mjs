/**
 * tshpool-holder stays up and bounded whatever its peers do: garbage, oversized
 * frames, a peer of another uid, endless reconnects; it costs little memory with
 * many sessions and goes away by itself when it has nothing to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { randomBytes } from 'node:crypto';
import { fdCount, HOLDER_BIN, holderSandbox, readUntil, rssKiB, shell, SIZE } from '../support/holder.mjs';
import { isAlive, waitUntil } from '../support/sandbox.mjs';

/** A HELLO frame of protocol version 1 (see native/holder.c). */
const HELLO = Buffer.from([5, 0, 0, 0, 1, 1, 0, 0, 0]);

/** Connects a plain socket, writes `bytes`, and resolves with all it receives until the holder closes it. */
function rawExchange(socketPath, bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = createConnection(socketPath, () => sock.write(bytes, () => {}));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (err) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? null : reject(err)));
    sock.on('close', () => resolve(Buffer.concat(chunks)));
    sock.setTimeout(10_000, () => reject(new Error('the holder did not close the connection')));
  });
}

/** The message of the first ERROR frame (type 71) in `reply`, or null. */
function errorMessage(reply) {
  for (let at = 0; at + 5 <= reply.length; ) {
    const len = reply.readUInt32LE(at);
    if (reply[at + 4] === 71) return reply.toString('utf8', at + 13, at + 4 + len);
    at += 4 + len;
  }
  return null;
}

/** Starts a holder holding one `cat` session; returns the sandbox and the holder pid. */
async function holderWithOneSession(t) {
  const h = await holderSandbox(t);
  const client = h.client();
  const { holderPid } = await client.start();
  const pty = await client.spawn('keep', shell('exec cat'), SIZE);
  pty.release();
  client.dispose();
  await waitUntil(() => h.log().includes('closed: peer closed the connection'), { message: 'the holder to see the client go' });
  return { h, holderPid, catPid: pty.pid };
}

/** Asserts the holder still serves, and still holds the `cat` session. */
async function assertStillHolding(h, holderPid, catPid) {
  assert.ok(isAlive(holderPid), 'the holder is alive');
  const client = h.client();
  const { sessions } = await client.start();
  assert.deepEqual(sessions.map((p) => p.pid), [catPid]);
  for (const p of sessions) p.release();
  client.dispose();
}

test('garbage, oversized frames and random frames get an error reply, never a crash', async (t) => {
  const { h, holderPid, catPid } = await holderWithOneSession(t);
  assert.match(errorMessage(await rawExchange(h.socketPath, Buffer.from('GET / HTTP/1.1\r\n\r\n'))), /must be 1 to 1048576/);
  assert.match(errorMessage(await rawExchange(h.socketPath, Buffer.from([0xff, 0xff, 0xff, 0xff, 1]))), /frame of 4294967295 bytes/);
  assert.match(errorMessage(await rawExchange(h.socketPath, Buffer.from([1, 0, 0, 0, 2]))), /first frame must be HELLO/);
  assert.match(errorMessage(await rawExchange(h.socketPath, Buffer.from([5, 0, 0, 0, 1, 9, 0, 0, 0]))), /protocol version 1, daemon speaks 9/);
  // Fuzz: after a valid HELLO, frames of random types (SHUTDOWN excepted) and random payloads.
  for (let round = 0; round < 150; round++) {
    const frames = [HELLO];
    for (let i = 0; i < 4; i++) {
      let type = randomBytes(1)[0];
      if (type === 5) type = 2;
      if (round % 3 === 0) type = 2 + (round % 3); // SPAWN and FORGET get extra attention
      const payload = randomBytes(randomBytes(1)[0] % 80);
      const head = Buffer.alloc(5);
      head.writeUInt32LE(payload.length + 1);
      head[4] = type;
      frames.push(head, payload);
    }
    await rawExchange(h.socketPath, Buffer.concat(frames));
  }
  await assertStillHolding(h, holderPid, catPid);
});

test('a peer of another uid is refused, even with the socket opened to everyone', { skip: process.getuid() !== 0 && 'needs root to run as nobody' }, async (t) => {
  const { h, holderPid, catPid } = await holderWithOneSession(t);
  chmodSync(h.dir, 0o755); // for this test only: let nobody reach the socket ...
  chmodSync(h.socketPath, 0o666); // ... so that only the holder's own uid check stands in the way
  // The holder answers a stranger at once, before any request: only read.
  const script = `const s = require('net').createConnection(${JSON.stringify(h.socketPath)});
    const got = []; s.on('data', (d) => got.push(d)); s.on('error', (e) => { console.log('error ' + e.code); });
    s.on('close', () => console.log(Buffer.concat(got).toString('latin1')));`;
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /permission denied: this holder serves uid 0 only, you are uid \d+/);
  assert.doesNotMatch(r.stdout, /keep/, 'no session was listed to the stranger');
  assert.match(h.log(), /refused pid \d+ of uid \d+/);
  await assertStillHolding(h, holderPid, catPid);
});

test('the holder exits by itself once it has held no session and no daemon for its idle time', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client({ idleExitMs: 300 });
  const { holderPid } = await client.start();
  const pty = await client.spawn('s', shell('exec cat'), SIZE);
  pty.release();
  client.dispose();
  // Holding a session keeps it alive with no daemon: wait well past the idle time.
  await waitUntil(() => h.log().includes('closed: peer closed the connection'), { message: 'the client to be gone' });
  const heldSince = Date.now();
  await waitUntil(() => Date.now() - heldSince > 1000, { interval: 100, message: 'three idle periods' });
  assert.ok(isAlive(holderPid), 'a holder with a session stays');

  const again = h.client({ idleExitMs: 300 });
  const { sessions } = await again.start();
  sessions[0].dispose(); // forget: now it holds nothing
  again.dispose();
  await waitUntil(() => !isAlive(holderPid), { timeout: 5000, message: 'the idle holder to exit' });
  assert.equal(existsSync(h.socketPath), false, 'it removed its socket');
  assert.match(h.log(), /exiting: no session and no daemon for 300 ms/);
  await waitUntil(() => !isAlive(pty.pid), { message: 'the forgotten session to be hung up' });
});

test('a second holder on the same socket refuses to start; start() then connects to the first', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  const { holderPid } = await client.start();
  const second = spawn(HOLDER_BIN, ['--socket', h.socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  second.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => second.on('exit', resolve));
  assert.equal(code, 3);
  assert.match(stderr, /another holder is running on/);
  assert.ok(isAlive(holderPid));
});

test('no fd leaks: 50 connect/adopt/release cycles leave holder and client with the fds they had', async (t) => {
  const h = await holderSandbox(t);
  const first = h.client();
  const { holderPid } = await first.start();
  for (let i = 0; i < 3; i++) (await first.spawn(`s${i}`, shell('exec cat'), SIZE)).release();
  first.dispose();
  await waitUntil(() => !first.connected && h.log().includes('closed: peer closed the connection'), { message: 'the first client to be gone' });
  const holderBefore = fdCount(holderPid);
  const selfBefore = fdCount();
  for (let cycle = 0; cycle < 50; cycle++) {
    const client = h.client();
    const { sessions } = await client.start();
    assert.equal(sessions.length, 3);
    if (cycle === 0) {
      const echoed = readUntil(sessions[0], /a\r\na\r\n/);
      sessions[0].write('a\r');
      await echoed;
    }
    for (const p of sessions) p.release();
    client.dispose();
  }
  await waitUntil(() => fdCount(holderPid) === holderBefore && fdCount() === selfBefore, {
    timeout: 5000,
    message: `fd counts to return (holder ${holderBefore}, client ${selfBefore})`,
  }).catch((err) => {
    throw new Error(`${err.message}; now holder ${fdCount(holderPid)}, client ${fdCount()}`);
  });
  t.diagnostic(`fds after 50 cycles: holder ${fdCount(holderPid)} (before ${holderBefore}), client ${fdCount()} (before ${selfBefore})`);
});

test('holder memory with 100 sessions stays at a few MB', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  const { holderPid } = await client.start();
  const idleKiB = rssKiB(holderPid);
  const ptys = [];
  for (let i = 0; i < 100; i++) ptys.push(await client.spawn(`s${i}`, shell('exec cat'), SIZE));
  const kiB = rssKiB(holderPid);
  t.diagnostic(`holder RSS: ${idleKiB} KiB idle, ${kiB} KiB with 100 sessions (${fdCount(holderPid)} fds)`);
  console.log(`holder RSS with 100 sessions: ${kiB} KiB (idle: ${idleKiB} KiB)`);
  assert.ok(kiB < 4 * 1024, `holder RSS ${kiB} KiB with 100 sessions`);
  await client.shutdown({ force: true });
  await waitUntil(() => !isAlive(holderPid) && ptys.every((p) => !isAlive(p.pid)), { message: 'a forced shutdown to end holder and sessions' });
  for (const p of ptys) p.release();
});

test('SHUTDOWN: the holder exits once its last session is forgotten, unless a new daemon said hello meanwhile', async (t) => {
  const h = await holderSandbox(t);
  const client = h.client();
  const { holderPid } = await client.start();
  const pty = await client.spawn('s', shell('exec cat'), SIZE);
  const shutDown = client.shutdown();
  await waitUntil(() => h.log().includes('shutdown requested'), { message: 'the holder to take the shutdown' });
  assert.ok(isAlive(holderPid) && isAlive(pty.pid), 'it waits for the session');

  const next = h.client();
  const { sessions } = await next.start(); // a new daemon: the holder is wanted again
  await shutDown; // the old connection was superseded and closed
  pty.release();
  sessions[0].dispose();
  await waitUntil(() => !isAlive(pty.pid), { message: 'the forgotten session to be hung up' });
  await waitUntil(() => h.log().includes(`forgot pid ${pty.pid}`), { message: 'the forget to reach the holder' });
  // A round trip after the forget: a holder still shutting down would have exited with its last session.
  const more = await next.spawn('t', shell('exec cat'), SIZE);
  assert.ok(isAlive(holderPid), 'the hello cancelled the shutdown');
  more.dispose();

  await next.shutdown();
  await waitUntil(() => !isAlive(holderPid), { message: 'a holder with no session to exit on shutdown' });
  assert.match(h.log(), /exiting: shutdown requested and no session left/);
});
