import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameKind, encodeControl, encodeData, MAX_CONTROL_FRAME_BYTES, ProtocolError } from '../../dist/protocol/codec.js';
import { parseRequest } from '../../dist/protocol/messages.js';

const concat = (parts) => Buffer.concat(parts.flat());

test('control and data frames round-trip', () => {
  const d = new FrameDecoder();
  const bytes = concat([encodeControl({ type: 'list' }), encodeData(Buffer.from([0, 1, 2, 255]))]);
  const frames = d.push(bytes);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], { kind: FrameKind.Control, message: { type: 'list' } });
  assert.equal(frames[1].kind, FrameKind.Data);
  assert.deepEqual([...frames[1].data], [0, 1, 2, 255]);
  assert.equal(d.pendingBytes, 0);
});

test('frames split at every byte boundary decode the same', () => {
  const bytes = concat([encodeControl({ type: 'hello', protocol: 1, version: 'x' }), encodeData(Buffer.from('hello world')), encodeData(Buffer.alloc(0))]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
    assert.equal(frames.length, 3, `cut at ${cut}`);
    assert.equal(frames[1].data.toString(), 'hello world');
    assert.equal(frames[2].data.length, 0);
  }
});

test('byte-by-byte feeding works', () => {
  const bytes = concat([encodeData(Buffer.from('abc')), encodeControl({ type: 'ok' })]);
  const d = new FrameDecoder();
  const frames = [];
  for (const b of bytes) frames.push(...d.push(Buffer.from([b])));
  assert.equal(frames.length, 2);
  assert.equal(frames[0].data.toString(), 'abc');
});

test('unknown kind, oversize length and bad JSON are protocol errors', () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from([9, 0, 0, 0, 0])), ProtocolError);
  const huge = Buffer.alloc(5);
  huge[0] = FrameKind.Control;
  huge.writeUInt32BE(MAX_CONTROL_FRAME_BYTES + 1, 1);
  assert.throws(() => new FrameDecoder().push(huge), /exceeds/);
  const bad = Buffer.from('{nope');
  const head = Buffer.from([FrameKind.Control, 0, 0, 0, bad.length]);
  assert.throws(() => new FrameDecoder().push(Buffer.concat([head, bad])), /invalid JSON/);
  const arr = Buffer.from('[1]');
  assert.throws(() => new FrameDecoder().push(Buffer.concat([Buffer.from([1, 0, 0, 0, arr.length]), arr])), /not a JSON object/);
});

test('a huge declared length is rejected before its payload arrives', () => {
  const head = Buffer.alloc(5);
  head[0] = FrameKind.Data;
  head.writeUInt32BE(0xffffffff, 1);
  assert.throws(() => new FrameDecoder().push(head), ProtocolError);
});

test('parseRequest validates shapes and ignores unknown fields', () => {
  assert.deepEqual(parseRequest({ type: 'list', extra: 1 }), { type: 'list' });
  assert.throws(() => parseRequest({ type: 'nope' }), /unknown request type/);
  assert.throws(() => parseRequest({ type: 'kill', names: 'a' }), /names/);
  assert.throws(() => parseRequest({ type: 'resize', rows: 0, cols: 10 }), /rows/);
  const attach = {
    type: 'attach', name: 'main', force: false, background: false, ttlMs: null, cmd: null, dir: null,
    rows: 24, cols: 80, env: { TERM: 'xterm' }, clientPid: 1,
  };
  assert.equal(parseRequest(attach).name, 'main');
  assert.throws(() => parseRequest({ ...attach, name: 'a/b' }), /\//);
  assert.throws(() => parseRequest({ ...attach, env: { A: 1 } }), /env/);
  assert.throws(() => parseRequest({ ...attach, ttlMs: -5 }), /ttlMs/);
});
