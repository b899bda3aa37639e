import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatAge } from '../../dist/util/duration.js';
import { splitShellWords } from '../../dist/util/shell-words.js';
import { sessionNameProblem } from '../../dist/protocol/names.js';

test('durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('3h'), 10_800_000);
  assert.equal(parseDuration('2d'), 172_800_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  for (const bad of ['', '10', '5x', 'h', '1m1h', '1h 30m', '-5s', '0s', '1s1s']) assert.equal(parseDuration(bad), null, bad);
});

test('formatAge', () => {
  assert.equal(formatAge(5_000), '5s');
  assert.equal(formatAge(125_000), '2m');
  assert.equal(formatAge(3 * 3600_000 + 60_000), '3h1m');
  assert.equal(formatAge(3 * 86_400_000), '3d');
});

test('shell words', () => {
  assert.deepEqual(splitShellWords('make watch'), ['make', 'watch']);
  assert.deepEqual(splitShellWords(`sh -c 'echo "hi there"; ls'`), ['sh', '-c', 'echo "hi there"; ls']);
  assert.deepEqual(splitShellWords('a\\ b "c\\"d" \'\' e'), ['a b', 'c"d', '', 'e']);
  assert.deepEqual(splitShellWords('  '), []);
  assert.throws(() => splitShellWords("'open"), /unterminated single quote/);
  assert.throws(() => splitShellWords('"open'), /unterminated double quote/);
  assert.throws(() => splitShellWords('x\\'), /trailing backslash/);
});

test('session names', () => {
  assert.equal(sessionNameProblem('main'), null);
  assert.equal(sessionNameProblem('a.b-c_d@1'), null);
  for (const bad of ['', 'a b', 'a/b', '.', '..', 'x'.repeat(65), 'a\u0001b', 'tab\t']) assert.notEqual(sessionNameProblem(bad), null, JSON.stringify(bad));
  assert.equal(sessionNameProblem('x'.repeat(64)), null);
  // issue 15: names that would share a directory (lone surrogates → U+FFFD on disk) or hide/reorder text.
  for (const bad of ['\ud800', '\udbff', 'a\udc00', '\ufffd', 'a\u200bb', 'a\u200db', 'x\u202ey', 'x\u2066', 'x\u2028', '\ufeffx', 'a\u00adb', '\ue000']) {
    assert.match(sessionNameProblem(bad) ?? '', /well-formed Unicode|invisible or text-direction|whitespace/, JSON.stringify(bad));
  }
  for (const good of ['日本語', 'café', 'emoji😀', 'Ωmega']) assert.equal(sessionNameProblem(good), null, good);
});
