// The condenser must never change what the emulator ends up showing: random
// streams are fed to one terminal directly and to another through the condenser,
// and every cell, attribute, cursor and mode is compared.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { OutputCondenser } from '../../dist/restore/output-condenser.js';
import { renderRowAnsi, sgrAbsolute } from '../../dist/restore/sgr.js';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless');

const COLS = 20;
const ROWS = 5;
const SCROLLBACK = 12;

/** Small deterministic PRNG so a failure can be replayed from its seed. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const PIECES = [
  () => 'plain text ',
  () => '\r\n',
  () => '\n',
  () => '\r',
  () => '\t',
  () => 'x'.repeat(25), // wraps
  () => '\x1b[31m',
  () => '\x1b[1;44m',
  () => '\x1b[0m',
  () => '\x1b[m',
  () => '\x1b[38;2;1;2;3m',
  () => '\x1b[38:5:200m',
  () => '\x1b[2;3H',
  () => '\x1b[A',
  () => '\x1b[2B',
  () => '\x1b[?5K',
  () => '\x1b[2 @',
  () => '\x1b[L',
  () => '\x1b[M',
  () => '\x1b[K',
  () => '\x1b[2;4r',
  () => '\x1b[r',
  () => '\x1b[?1049h',
  () => '\x1b[?1049l',
  () => '\x1b]2;title\x07',
  () => '\x1b(0qqq\x1b(B',
  () => '\x08',
  () => 'é€😀',
  () => '\xc2\x9b32m', // C1 CSI (as the raw bytes C2 9B), an SGR
  () => '\xc2\x9b3;4r', // C1 CSI DECSTBM
  () => '\x1b7',
  () => '\x1b8',
  () => '\x1bc',
  () => '\x1b[4h',
  () => '\x1b[4l',
  () => '\x1b[?7l',
  () => '\x1b[?7h',
];

function makeStream(rand, length, resets) {
  const parts = [];
  let n = 0;
  let plainPhase = 0;
  while (n < length) {
    // Phases of plain lines long enough to be condensed, between mixed stretches.
    if (plainPhase === 0 && rand() < 0.05) plainPhase = 40 + Math.floor(rand() * 120);
    const r = plainPhase > 0 ? rand() * 0.75 : rand();
    if (plainPhase > 0) plainPhase--;
    let piece;
    if (r < 0.55) piece = `${Math.floor(rand() * 1e6)}\r\n`;
    else if (r < 0.7 && !resets) piece = `${Math.floor(rand() * 1e3)}\r\n`;
    else if (r < 0.7) piece = `\x1b[3${Math.floor(rand() * 8)}m${'ab'.repeat(Math.floor(rand() * 15))}\x1b[0m\r\n`;
    else if (r < 0.705) piece = '\x1b[4A'; // not confined to a line: must end the run
    else if (r < 0.72) piece = ['\x1b[K', '\x1b[2K', '\x1b[5G', '\x1b[3C', '\x1b[2D', '\x1b[2@', '\x1b[3P', '\x1b[4X', '\x1b[7`', '\x1b[1K'][Math.floor(rand() * 10)];
    else if (r < 0.75) piece = `\x1b[${[1, 4, 7, 9, 33, 45, 22][Math.floor(rand() * 7)]}mzz`; // colours that last
    else piece = PIECES[Math.floor(rand() * PIECES.length)]();
    parts.push(piece);
    n += piece.length;
  }
  // latin1 keeps the raw C1 byte pairs above; everything else is re-encoded as UTF-8.
  return Buffer.concat(parts.map((p) => (p.startsWith('\xc2') ? Buffer.from(p, 'latin1') : Buffer.from(p, 'utf8'))));
}

function state(term) {
  const dump = (buf) => {
    const cell = buf.getNullCell();
    const rows = [];
    for (let y = 0; y < buf.length; y++) {
      const line = buf.getLine(y);
      rows.push(`${line.isWrapped ? '~' : ' '}${renderRowAnsi(line, term.cols, cell)}`);
    }
    return rows;
  };
  const core = term._core;
  return {
    normal: dump(term.buffer.normal),
    alt: term.buffer.active.type === 'alternate' ? dump(term.buffer.alternate) : null,
    cursor: [term.buffer.active.cursorX, term.buffer.active.cursorY],
    attrs: sgrAbsolute(core._inputHandler._curAttrData),
    margins: [core.buffer.scrollTop, core.buffer.scrollBottom],
    modes: term.modes,
  };
}

const write = (term, data) => new Promise((r) => term.write(data, r));

async function compare(seed, { trimBytes, maxHoldBytes, chunk, stream: given }) {
  const rand = rng(seed);
  const stream = given ?? makeStream(rand, 20_000, seed % 3 !== 0);
  const direct = new Terminal({ cols: COLS, rows: ROWS, scrollback: SCROLLBACK, allowProposedApi: true });
  const condensed = new Terminal({ cols: COLS, rows: ROWS, scrollback: SCROLLBACK, allowProposedApi: true });
  const condenser = new OutputCondenser((d) => condensed.write(d), ROWS, SCROLLBACK, { trimBytes, maxHoldBytes });
  for (let o = 0; o < stream.length; ) {
    const n = 1 + Math.floor(rand() * chunk);
    const piece = stream.subarray(o, o + n);
    direct.write(piece);
    condenser.push(piece);
    o += n;
    // Occasional queries in the middle, as snapshots do.
    if (rand() < 0.003) {
      condenser.drain();
      await write(direct, '');
      await write(condensed, '');
      assert.deepEqual(state(condensed), state(direct), `seed ${seed} at byte ${o}`);
    }
  }
  condenser.drain();
  await write(direct, '');
  await write(condensed, '');
  assert.deepEqual(state(condensed), state(direct), `seed ${seed} at the end`);
  direct.dispose();
  condensed.dispose();
  return condenser.stats;
}

test('condensed output leaves the emulator in exactly the same state (random streams)', async () => {
  let dropped = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const stats = await compare(seed, { trimBytes: 200 + seed * 50, maxHoldBytes: 4000 + seed * 100, chunk: 1 + (seed % 7) * 300 });
    dropped += stats.droppedBytes;
  }
  // The comparison only means something if output was actually dropped.
  assert.ok(dropped > 50_000, `dropped only ${dropped} bytes`);
});

test('a plain flood is condensed to about the lines a snapshot can show', async () => {
  const sunk = [];
  const condenser = new OutputCondenser((d) => sunk.push(d.length), 40, 1000);
  let text = '';
  for (let i = 1; i <= 200_000; i++) text += `${i}\r\n`;
  const data = Buffer.from(text);
  for (let o = 0; o < data.length; o += 4096) condenser.push(data.subarray(o, o + 4096));
  condenser.drain();
  const parsed = sunk.reduce((a, b) => a + b, 0);
  assert.equal(condenser.stats.inBytes, data.length);
  assert.equal(parsed + condenser.stats.droppedBytes, data.length);
  // At most the hold limit plus the 1081 kept lines reach the emulator.
  assert.ok(parsed < 1.2 * 1024 * 1024, `parsed ${parsed} of ${data.length}`);
  assert.ok(condenser.stats.droppedBytes > data.length / 2);
});

test('margins and the alternate screen stop condensing', async () => {
  for (const prefix of ['\x1b[2;10r', '\x1b[?1049h']) {
    const condenser = new OutputCondenser(() => {}, 24, 10, { trimBytes: 100, maxHoldBytes: 1000 });
    condenser.push(Buffer.from(prefix));
    let text = '';
    for (let i = 0; i < 5000; i++) text += `${i}\r\n`;
    condenser.push(Buffer.from(text));
    condenser.drain();
    assert.equal(condenser.stats.droppedBytes, 0, JSON.stringify(prefix));
  }
});

test('cursor-up inside a flood of lines ends the run (it can keep old lines on screen)', async () => {
  let text = '';
  for (let i = 0; i < 100; i++) text += `line ${i}\r\n`;
  // From the bottom row up to the top, one line written, down one: rows 2-4 keep lines 97-99.
  for (let i = 0; i < 60; i++) text += `\x1b[4AX${i}\r\n`;
  await compare(1, { trimBytes: 300, maxHoldBytes: 4000, chunk: 500, stream: Buffer.from(text) });
});
