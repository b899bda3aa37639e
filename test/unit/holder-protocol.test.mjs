/**
 * The daemon's codec for the holder protocol (src/daemon/holder/holder-protocol.ts):
 * frames cut anywhere, fds paired with their frames in order, nothing leaked on errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHolderRequest, HolderReplyDecoder } from '../../dist/daemon/holder/holder-protocol.js';

function frame(type, ...fields) {
  const body = Buffer.concat([Buffer.of(type), ...fields]);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const str = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const held = (key, pid, exited, code, sig) => frame(65, str(key), u32(pid), Buffer.of(exited ? 1 : 0), u32(code), u32(sig));

test('replies cut at every byte decode the same, each fd-carrying frame taking the next fd', () => {
  const stream = Buffer.concat([frame(64, u32(1), u32(4242), u32(2)), held('a', 10, false, 0, 0), held('b', 11, true, 0, 9), frame(66)]);
  for (let cut = 1; cut < stream.length; cut++) {
    const closed = [];
    const d = new HolderReplyDecoder((fd) => closed.push(fd));
    // The kernel delivers an fd with its frame's first byte: here both fds come with the first chunk.
    const replies = [...d.push(stream.subarray(0, cut), [100, 101]), ...d.push(stream.subarray(cut), [])];
    assert.deepEqual(replies, [
      { type: 'welcome', version: 1, holderPid: 4242, sessionCount: 2 },
      { type: 'held', key: 'a', pid: 10, state: 'running', fd: 100 },
      { type: 'held', key: 'b', pid: 11, state: 'exited', exitCode: 0, signal: 9, fd: 101 },
      { type: 'endOfList' },
    ]);
    d.dispose();
    assert.deepEqual(closed, [], 'every fd was claimed');
  }
});

test('a malformed reply is an error, and no received fd leaks', () => {
  const closed = [];
  const d = new HolderReplyDecoder((fd) => closed.push(fd));
  assert.throws(() => d.push(Buffer.concat([held('a', 1, false, 0, 0), frame(99)]), [7, 8]), /unknown holder reply type 99/);
  d.dispose();
  assert.deepEqual(closed.sort(), [7, 8], 'the fd of the frame decoded before the error and the unclaimed one are closed');
  assert.throws(() => new HolderReplyDecoder(() => {}).push(held('a', 1, false, 0, 0), []), /did not arrive/);
  assert.throws(() => new HolderReplyDecoder(() => {}).push(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1]), []), /holder frame of \d+ bytes/);
  assert.throws(() => new HolderReplyDecoder(() => {}).push(frame(64, u32(1)), []), /shorter than its fields/);
});

test('requests encode to the layout native/holder.c reads', () => {
  assert.deepEqual(encodeHolderRequest({ type: 'hello', version: 1 }), Buffer.from([5, 0, 0, 0, 1, 1, 0, 0, 0]));
  assert.deepEqual(encodeHolderRequest({ type: 'kill', key: 'k', signal: 15, group: true }), frame(4, str('k'), u32(15), Buffer.of(1)));
  const spawn = encodeHolderRequest({ type: 'spawn', reqId: 3, key: 'k', file: '/bin/sh', argv: ['sh', '-c'], env: ['A=1'], cwd: '/', cols: 80, rows: 24 });
  assert.deepEqual(spawn, frame(2, u32(3), str('k'), str('/bin/sh'), u32(2), str('sh'), str('-c'), u32(1), str('A=1'), str('/'), Buffer.from([80, 0, 24, 0])));
  assert.throws(() => encodeHolderRequest({ type: 'spawn', reqId: 1, key: 'k', file: 'x', argv: ['x'], env: ['A='.padEnd(2 * 1024 * 1024, 'x')], cwd: '/', cols: 1, rows: 1 }), /exceeds the holder's limit/);
});
