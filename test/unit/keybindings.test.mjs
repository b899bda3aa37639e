import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeybindingMatcher } from '../../dist/util/keybindings.js';
import { parseBinding, keyBytes } from '../../dist/util/keys.js';

const b = (...xs) => Buffer.from(xs);

test('parseBinding understands the default and common chords', () => {
  assert.deepEqual([...parseBinding('Ctrl-Space Ctrl-q')], [0x00, 0x11]);
  assert.deepEqual([...parseBinding('C-a d')], [0x01, 0x64]);
  assert.deepEqual([...parseBinding('^b')], [0x02]);
  assert.deepEqual([...parseBinding('Ctrl-\\')], [0x1c]);
  assert.equal(keyBytes('Enter'), '\r');
  assert.equal(keyBytes('Up'), '\x1b[A');
  assert.throws(() => parseBinding('Ctrl-Foo'), /unknown key 'Ctrl-Foo'/);
  assert.throws(() => parseBinding('   '), /at least one key/);
});

test('default detach binding fires and swallows its bytes', () => {
  const m = new KeybindingMatcher([]);
  const r = m.push(b(0x61, 0x00, 0x11, 0x62));
  assert.deepEqual([...r.output], [0x61]);
  assert.deepEqual(r.actions, ['detach']);
});

test('a binding split across reads still matches', () => {
  const m = new KeybindingMatcher([]);
  const r1 = m.push(b(0x00));
  assert.equal(r1.output.length, 0);
  assert.deepEqual(r1.actions, []);
  const r2 = m.push(b(0x11));
  assert.deepEqual(r2.actions, ['detach']);
  assert.equal(r2.output.length, 0);
});

test('a partial match that does not complete passes through, also across reads', () => {
  const m = new KeybindingMatcher([]);
  assert.equal(m.push(b(0x00)).output.length, 0);
  const r = m.push(b(0x78));
  assert.deepEqual([...r.output], [0x00, 0x78]);
  assert.deepEqual(r.actions, []);
});

test('overlapping prefixes are re-scanned (NUL NUL Ctrl-q)', () => {
  const m = new KeybindingMatcher([]);
  const r = m.push(b(0x00, 0x00, 0x11));
  assert.deepEqual([...r.output], [0x00]);
  assert.deepEqual(r.actions, ['detach']);
});

test('configured bindings replace the default; noop swallows', () => {
  const m = new KeybindingMatcher([
    { binding: 'Ctrl-a d', action: 'detach' },
    { binding: 'Ctrl-b', action: 'noop' },
  ]);
  const r = m.push(b(0x00, 0x11, 0x02, 0x7a));
  assert.deepEqual([...r.output], [0x00, 0x11, 0x7a]);
  assert.deepEqual(r.actions, ['noop']);
  assert.deepEqual(m.push(b(0x01, 0x64)).actions, ['detach']);
});

test('plain input takes the fast path unchanged', () => {
  const m = new KeybindingMatcher([]);
  const input = Buffer.from('ls -la\r');
  assert.equal(m.push(input).output, input);
});
