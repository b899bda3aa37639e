// End-to-end: the daemon socket under abuse — garbage, oversize and malformed
// frames, silent connections — must cost only the offending connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { makeSandbox, FRAME, isAlive, shellRun } from '../support/sandbox.mjs';
import { attachRequest as baseAttachRequest } from '../support/requests.mjs';

/** A daemon with one attached session, to check that abuse leaves everything working. */
async function liveDaemon(t) {
  const sb = await makeSandbox(t);
  const term = await sb.attachShell('victim');
  const pid = await sb.daemonPid();
  const stillWorks = async (what) => {
    assert.ok(isAlive(pid), `the daemon survived ${what}`);
    assert.equal(await shellRun(term, 'echo alive'), 'alive\n', `the session still works after ${what}`);
    const r = await sb.run(['list']);
    assert.equal(r.code, 0, `list after ${what}: ${r.stderr}`);
    assert.match(r.stdout, /^victim\s+attached/m);
    assert.equal(await sb.daemonPid(), pid, `the same daemon after ${what}`);
  };
  return { sb, term, pid, stillWorks };
}

const attachRequest = (over = {}) => baseAttachRequest({ name: 'raw', ...over });

test('garbage, oversize and malformed frames end only that connection', async (t) => {
  const { sb, stillWorks } = await liveDaemon(t);
  const header = (kind, len) => {
    const b = Buffer.alloc(5);
    b.writeUInt8(kind, 0);
    b.writeUInt32BE(len, 1);
    return b;
  };
  const cases = {
    'random bytes': (c) => c.write(Buffer.concat([Buffer.from([0x7f]), randomBytes(4096)])),
    'a 4 GiB control frame header': (c) => c.write(header(FRAME.CONTROL, 0xffffffff)),
    'a 4 GiB data frame header': (c) => c.write(header(FRAME.DATA, 0xffffffff)),
    'an unknown frame kind': (c) => c.write(Buffer.concat([header(0x03, 2), Buffer.from('{}')])),
    'invalid JSON in a control frame': (c) => c.send(Buffer.from('{"type": "hello", nope')),
    'a JSON array': (c) => c.send('[1,2,3]'),
    'a JSON string': (c) => c.send('"hello"'),
    'invalid UTF-8 JSON': (c) => c.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    'a command before hello': (c) => c.send({ type: 'list' }),
    'terminal data before hello': (c) => c.writeFrame(FRAME.DATA, 'echo pwned\r'),
    'an unknown request type': (c) => (c.hello(), c.send({ type: 'reboot' })),
    'hello twice': (c) => (c.hello(), c.hello()),
    'terminal data before attaching': (c) => (c.hello(), c.writeFrame(FRAME.DATA, 'x')),
    'attach with a bad name': (c) => (c.hello(), c.send(attachRequest({ name: '../x' }))),
    'attach with missing fields': (c) => (c.hello(), c.send({ type: 'attach', name: 'raw2' })),
    'attach with a zero-size terminal': (c) => (c.hello(), c.send(attachRequest({ rows: 0 }))),
    'attach with a non-string env value': (c) => (c.hello(), c.send(attachRequest({ env: { TERM: 5 } }))),
    'kill with names not an array': (c) => (c.hello(), c.send({ type: 'kill', names: 'victim' })),
    'resize before attaching': (c) => (c.hello(), c.send({ type: 'resize', rows: 10, cols: 10 })),
  };
  for (const [what, send] of Object.entries(cases)) {
    const c = await sb.connectRaw();
    send(c);
    await c.waitClose(5000).catch((err) => assert.fail(`${what}: ${err.message}`));
  }
  await stillWorks('malformed frames');
  assert.deepEqual((await sb.list()).map((s) => s.name), ['victim'], 'no session was created by a bad request');
});

test('a protocol version mismatch is refused with a message that names both versions', async (t) => {
  const { sb, stillWorks } = await liveDaemon(t);
  const c = await sb.connectRaw();
  c.hello(999, '99.0.0');
  const [reply] = await c.waitMessages((m) => m.length >= 1);
  assert.equal(reply.type, 'error');
  assert.match(reply.reason, /99\.0\.0/);
  await c.waitClose();
  await stillWorks('a version mismatch');
});

test('a well-formed request whose reply would exceed the frame limit does not kill the daemon', async (t) => {
  // 63 names of 4096 invalid UTF-8 bytes: the request fits in a control frame,
  // but each byte comes back as U+FFFD (3 bytes) in the `not found` reply.
  const { sb, stillWorks } = await liveDaemon(t);
  const name = Buffer.alloc(4096, 0xff);
  const parts = [Buffer.from('{"type":"detach","names":[')];
  for (let i = 0; i < 63; i++) parts.push(Buffer.from(i ? ',"' : '"'), name, Buffer.from('"'));
  parts.push(Buffer.from(']}'));
  const c = await sb.connectRaw();
  c.hello();
  c.send(Buffer.concat(parts));
  await c.waitClose(5000);
  await stillWorks('a detach request with an oversize reply');
});

test('a connection that sends nothing (or half a frame) is dropped after about a second and blocks nobody', async (t) => {
  const { sb, stillWorks } = await liveDaemon(t);
  const silent = await Promise.all(Array.from({ length: 20 }, () => sb.connectRaw()));
  const partial = await sb.connectRaw();
  partial.write(Buffer.from([FRAME.CONTROL, 0, 0, 0, 100, 0x7b])); // promises 100 bytes, sends 1
  // Other commands are served meanwhile.
  const r = await sb.run(['list']);
  assert.equal(r.code, 0, r.stderr);
  // On a machine that is not overloaded, list comes back well within the silent
  // connections' one second: it was served while they were open.
  if (r.ms < 700) assert.equal(silent.filter((c) => !c.closed).length, silent.length);
  for (const c of [...silent, partial]) {
    const ms = await c.waitClose(6000);
    assert.ok(ms >= 800 && ms < 5000, `dropped after ${ms} ms`);
  }
  await stillWorks('silent connections');
});

test('raw protocol: hello, list and a background attach work as documented', async (t) => {
  const { sb } = await liveDaemon(t);
  const c = await sb.connectRaw();
  const reply = await c.request({ type: 'list' });
  assert.equal(reply.type, 'list');
  assert.deepEqual(reply.sessions.map((s) => s.name), ['victim']);
  const [hello] = c.messages();
  assert.equal(hello.type, 'hello');
  assert.equal(hello.pid, await sb.daemonPid());
  await c.waitClose();

  const c2 = await sb.connectRaw();
  const r2 = await c2.request(attachRequest());
  assert.equal(r2.type, 'attached');
  assert.equal(r2.created, true);
  assert.ok(isAlive(r2.shellPid));
  assert.deepEqual((await sb.list()).map((s) => s.name), ['raw', 'victim']);
});

test('names that are not well-formed Unicode and a `__proto__` hook are refused at the protocol boundary (issue 15)', async (t) => {
  const { sb, stillWorks } = await liveDaemon(t);
  // Each of these shared one session directory before: killing one deleted the others'.
  for (const name of ['\ud800', '\udbff', '\ufffd', 'a\u202eb']) {
    const c = await sb.connectRaw();
    const reply = await c.request(attachRequest({ name, background: true }));
    assert.equal(reply.type, 'error', JSON.stringify(name));
    assert.match(reply.reason, /well-formed Unicode|invisible or text-direction/, JSON.stringify(name));
  }
  const c = await sb.connectRaw();
  const reply = await c.request(attachRequest({ name: 'hooked', background: true, hooks: { ['__proto__']: ['/bin/true'] } }));
  assert.equal(reply.type, 'error');
  assert.match(reply.reason, /unknown hook '__proto__'/);
  assert.deepEqual((await sb.list()).map((s) => s.name), ['victim']);
  await stillWorks('refused names and hooks');
});
