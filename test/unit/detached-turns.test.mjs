/**
 * The turn-taking of detached flooding sessions (src/daemon/detached-turns.ts),
 * driven with a manual clock: tick() is what the window timer calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetachedTurns, TURN_LIGHT_BYTES, TURN_SLICE_MS, TURN_WINDOW_MS } from '../../dist/daemon/detached-turns.js';

function setup() {
  let now = 0;
  const turns = new DetachedTurns(() => now);
  const taker = (name) => {
    const t = { name, held: false, changes: 0, setTurnHold(hold) { this.held = hold; this.changes++; } };
    return t;
  };
  /** One window passes: each flooding taker that is not held reads `bytes`, then the window ends. */
  const windowPasses = (floods, bytes = TURN_LIGHT_BYTES) => {
    for (const t of floods) if (!t.held) turns.onOutput(t, bytes);
    now += TURN_WINDOW_MS;
    turns.tick();
  };
  return { turns, taker, windowPasses, advance: (ms) => (now += ms) };
}

test('light detached output is never held, however many sessions print', (t) => {
  const { turns, taker, windowPasses } = setup();
  t.after(() => turns.dispose());
  const sessions = Array.from({ length: 10 }, (_, i) => taker(`s${i}`));
  for (let w = 0; w < 20; w++) windowPasses(sessions, TURN_LIGHT_BYTES - 1);
  assert.deepEqual(sessions.filter((s) => s.changes > 0), []);
  assert.equal(turns.current, null);
});

test('a single flooder is never held (a detached flood drains at full speed)', (t) => {
  const { turns, taker, windowPasses } = setup();
  t.after(() => turns.dispose());
  const a = taker('a');
  for (let w = 0; w < 50; w++) windowPasses([a]);
  assert.equal(a.changes, 0);
  assert.equal(turns.current, a);
});

test('flooders take turns: one reads, the others wait, each gets its slice in order', (t) => {
  const { turns, taker, windowPasses } = setup();
  t.after(() => turns.dispose());
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
  const { turns, taker, windowPasses } = setup();
  t.after(() => turns.dispose());
  const [a, b] = [taker('a'), taker('b')];
  windowPasses([a, b]);
  assert.equal(turns.current, a);
  assert.equal(b.held, true);
  windowPasses([]); // a printed nothing
  assert.equal(turns.current, b);
  assert.equal(b.held, false);
  windowPasses([]);
  assert.equal(turns.current, null);
});

test('leave() releases a waiting session at once and hands on the turn of a leaving flooder', (t) => {
  const { turns, taker, windowPasses } = setup();
  t.after(() => turns.dispose());
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

test('dispose() releases every waiting session', () => {
  const { turns, taker, windowPasses } = setup();
  const [a, b, c] = [taker('a'), taker('b'), taker('c')];
  windowPasses([a, b, c]);
  turns.dispose();
  assert.deepEqual([a.held, b.held, c.held], [false, false, false]);
});
