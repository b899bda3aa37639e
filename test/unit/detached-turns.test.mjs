/**
 * The turn-taking of detached flooding sessions (src/daemon/detached-turns.ts),
 * driven with a manual clock: tick() is what the window timer calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetachedTurns, TURN_BUSY_BYTES, TURN_HEAVY_TOTAL_BYTES, TURN_SLICE_MS, TURN_WINDOW_MS } from '../../dist/daemon/detached-turns.js';

/** What one read of a pty returns at most. */
const CHUNK_BYTES = 4096;

/** A DetachedTurns on a manual clock, disposed when test `t` ends. */
function setup(t) {
  let now = 0;
  let enabled = true;
  const turns = new DetachedTurns(() => enabled, () => now);
  t.after(() => turns.dispose());
  const taker = (name) => {
    const t = { name, held: false, changes: 0, setTurnHold(hold) { this.held = hold; this.changes++; } };
    return t;
  };
  /** One window passes: each taker that is not held reads `bytes` in pty-sized chunks, interleaved, then the window ends. */
  const windowPasses = (floods, bytes = TURN_HEAVY_TOTAL_BYTES) => {
    for (let done = 0; done < bytes; done += CHUNK_BYTES) {
      for (const t of floods) if (!t.held) turns.onOutput(t, Math.min(CHUNK_BYTES, bytes - done));
    }
    now += TURN_WINDOW_MS;
    turns.tick();
  };
  return { turns, taker, windowPasses, setEnabled: (on) => (enabled = on) };
}

test('nothing is held while detached output is light in total, or from a session that is not busy', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  // Several sessions printing at a busy rate, but little in total.
  const few = Array.from({ length: 3 }, (_, i) => taker(`s${i}`));
  const share = Math.floor((TURN_HEAVY_TOTAL_BYTES - 1) / few.length);
  assert.ok(share >= TURN_BUSY_BYTES);
  for (let w = 0; w < 20; w++) windowPasses(few, share);
  // A heavy flood and, beside it, sessions that are not busy.
  const flood = taker('flood');
  const quiet = Array.from({ length: 10 }, (_, i) => taker(`q${i}`));
  for (let w = 0; w < 20; w++) {
    windowPasses(quiet, TURN_BUSY_BYTES - 1);
    windowPasses([flood]);
  }
  assert.deepEqual([...few, flood, ...quiet].filter((s) => s.changes > 0), []);
  assert.equal(turns.current, flood);
});

test('many floods that each read little (they share the CPU) still take turns', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  const floods = Array.from({ length: 20 }, (_, i) => taker(`f${i}`));
  // ~1.5 MB/s each: under any per-session threshold that would let a single flood run free.
  windowPasses(floods, TURN_BUSY_BYTES * 2);
  assert.equal(floods.filter((s) => !s.held).length, 1);
  assert.equal(turns.queued.length, 19);
});

test('a single flooder is never held (a detached flood drains at full speed)', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  const a = taker('a');
  for (let w = 0; w < 50; w++) windowPasses([a]);
  assert.equal(a.changes, 0);
  assert.equal(turns.current, a);
});

test('flooders take turns: one reads, the others wait, each gets its slice in order', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  const [a, b, c] = [taker('a'), taker('b'), taker('c')];
  windowPasses([a, b, c]);
  assert.equal(turns.current, a);
  assert.deepEqual([a.held, b.held, c.held], [false, true, true]);
  const order = [turns.current.name];
  for (let w = 0; w < 30; w++) {
    windowPasses([a, b, c]);
    if (order.at(-1) !== turns.current.name) order.push(turns.current.name);
    assert.equal([a, b, c].filter((s) => !s.held).length, 1, 'exactly one flooder reads');
  }
  assert.deepEqual(order.slice(0, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  // A turn lasts the slice, rounded up to whole windows.
  const windowsPerTurn = Math.ceil(TURN_SLICE_MS / TURN_WINDOW_MS);
  assert.ok(order.length <= Math.ceil(31 / windowsPerTurn) + 1);
});

test('a flooder that goes quiet passes the turn at the end of that window', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  windowPasses([taker('a'), taker('b')]);
  const [first, second] = [turns.current, turns.queued[0]];
  assert.equal(second.held, true);
  windowPasses([]); // the flooder printed nothing
  assert.equal(turns.current, second);
  assert.equal(second.held, false);
  assert.equal(first.held, false);
  windowPasses([]);
  assert.equal(turns.current, null);
});

test('leave() releases a waiting session at once and hands on the turn of a leaving flooder', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  const [a, b, c] = [taker('a'), taker('b'), taker('c')];
  windowPasses([a, b, c]);
  turns.leave(c); // attached while waiting
  assert.equal(c.held, false);
  assert.deepEqual(turns.queued, [b]);
  turns.leave(a); // the flooder attached (or ended)
  assert.equal(turns.current, b);
  assert.equal(b.held, false);
  assert.deepEqual(turns.queued, []);
});

test('dispose() releases every waiting session', (t) => {
  const { turns, taker, windowPasses } = setup(t);
  const [a, b, c] = [taker('a'), taker('b'), taker('c')];
  windowPasses([a, b, c]);
  turns.dispose();
  assert.deepEqual([a.held, b.held, c.held], [false, false, false]);
});

test('detached_flood_turns = false: nobody is held, and turning it off releases the waiting at once', (t) => {
  const { turns, taker, windowPasses, setEnabled } = setup(t);
  const floods = [taker('a'), taker('b'), taker('c')];
  windowPasses(floods);
  assert.equal(turns.queued.length, 2);
  setEnabled(false);
  windowPasses(floods);
  assert.deepEqual(floods.map((f) => f.held), [false, false, false]);
  assert.equal(turns.current, null);
  for (let w = 0; w < 5; w++) windowPasses(floods);
  assert.deepEqual(floods.map((f) => f.held), [false, false, false]);
});
