/**
 * Flow control between a program and a slow terminal (src/daemon/output-pacing.ts),
 * driven with a manual clock and a fake terminal queue: check() is what the
 * pacer's interval timer calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputPacer } from '../../dist/daemon/output-pacing.js';
import {
  CLIENT_PACE_BYTES,
  CLIENT_PACE_CHECK_MS,
  CLIENT_PACE_RESUME_BYTES,
  CLIENT_STALL_WINDOW_MS,
} from '../../dist/consts.js';

/** A pacer over a fake terminal: write() queues bytes, take() is the terminal reading them. */
function setup() {
  let now = 0;
  let queued = 0;
  let accepted = 0;
  let timers = 0;
  const holds = [];
  const pacer = new OutputPacer({
    queuedBytes: () => queued,
    acceptedBytes: () => accepted,
    hold: (h) => holds.push(h),
    now: () => now,
    every: () => {
      timers++;
      return () => timers--;
    },
  });
  return {
    pacer,
    holds,
    timers: () => timers,
    write(bytes) {
      queued += bytes;
      pacer.onWritten();
    },
    take(bytes) {
      queued -= bytes;
      accepted += bytes;
    },
    /** `ms` pass in check intervals. */
    pass(ms) {
      for (let t = 0; t < ms; t += CLIENT_PACE_CHECK_MS) {
        now += CLIENT_PACE_CHECK_MS;
        pacer.check();
      }
    },
  };
}

test('output flows while the queue is under the watermark, and the program waits above it', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES);
  assert.equal(s.pacer.current, 'flowing');
  assert.deepEqual(s.holds, []);
  s.write(1);
  assert.equal(s.pacer.current, 'holding');
  assert.deepEqual(s.holds, [true]);
  assert.equal(s.timers(), 1, 'progress is looked at while holding');
});

test('a terminal that keeps taking bytes, however slowly, keeps the program waiting well past the stall window', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 1);
  // 4 KiB every 40 ms (100 KB/s) for ten stall windows: never down to the resume mark.
  for (let t = 0; t < 10 * CLIENT_STALL_WINDOW_MS; t += 40) {
    s.take(4096);
    s.write(4096); // what the pty had read before the pause took effect
    s.pass(40);
  }
  assert.equal(s.pacer.current, 'holding');
  assert.deepEqual(s.holds, [true], 'never let go');
});

test('progress seen only now and then (a whole big write completing) is still progress', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 65536);
  for (let i = 0; i < 5; i++) {
    s.pass(CLIENT_STALL_WINDOW_MS - 2 * CLIENT_PACE_CHECK_MS);
    s.take(65536);
    s.write(65536);
  }
  assert.equal(s.pacer.current, 'holding');
});

test('the program goes on once the queue is down to the resume mark, and waits again above the watermark', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 1);
  s.take(CLIENT_PACE_BYTES + 1 - CLIENT_PACE_RESUME_BYTES - 1);
  s.pass(CLIENT_PACE_CHECK_MS);
  assert.equal(s.pacer.current, 'holding', 'not yet at the resume mark');
  s.take(2);
  s.pass(CLIENT_PACE_CHECK_MS);
  assert.equal(s.pacer.current, 'flowing');
  assert.deepEqual(s.holds, [true, false]);
  assert.equal(s.timers(), 0);
  s.write(CLIENT_PACE_BYTES);
  assert.deepEqual(s.holds, [true, false, true]);
});

test('a drain lets the program go at once', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 1);
  s.take(CLIENT_PACE_BYTES + 1);
  s.pacer.onDrain();
  assert.equal(s.pacer.current, 'flowing');
  assert.deepEqual(s.holds, [true, false]);
});

test('a terminal that takes nothing for the stall window is stalled: the program goes on, and paces again once the terminal takes bytes', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 1);
  s.pass(CLIENT_STALL_WINDOW_MS - CLIENT_PACE_CHECK_MS);
  assert.equal(s.pacer.current, 'holding', 'not before the window is over');
  s.pass(CLIENT_PACE_CHECK_MS);
  assert.equal(s.pacer.current, 'stalled');
  assert.deepEqual(s.holds, [true, false]);
  assert.equal(s.timers(), 0);
  s.write(4096);
  assert.equal(s.pacer.current, 'stalled', 'no pacing while it takes nothing');
  s.take(4096);
  s.write(4096);
  assert.equal(s.pacer.current, 'holding', 'progress again: paced again');
  assert.deepEqual(s.holds, [true, false, true]);
});

test('dispose lets a waiting program go', () => {
  const s = setup();
  s.write(CLIENT_PACE_BYTES + 1);
  s.pacer.dispose();
  assert.deepEqual(s.holds, [true, false]);
  assert.equal(s.timers(), 0);
});
