// Round trips: bytes go into a spool and, directly, into a reference terminal; the
// spool's snapshot is written into a blank terminal of the same size, which must
// then match the reference cell for cell, cursor, modes and the rest.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { createSpool } from '../../dist/restore/create-spool.js';
import { LinesSpool, ScreenSpool } from '../../dist/restore/screen-spool.js';
import { renderRowAnsi, sgrAbsolute } from '../../dist/restore/sgr.js';
import { CaptureUnavailable, NullSpool } from '../../dist/restore/spool.js';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless');

const COLS = 80;
const ROWS = 24;
const SCROLLBACK = 200;

const newTerm = (cols = COLS, rows = ROWS, scrollback = SCROLLBACK) =>
  new Terminal({ cols, rows, scrollback, allowProposedApi: true });
const feed = (term, data) => new Promise((r) => term.write(data, r));

function dumpBuffer(term, buf) {
  const cell = buf.getNullCell();
  const rows = [];
  for (let y = 0; y < buf.length; y++) {
    const line = buf.getLine(y);
    rows.push(`${line.isWrapped ? '~' : '|'}${renderRowAnsi(line, term.cols, cell)}`);
  }
  // Blank rows at the very end carry no information (a restored buffer may have fewer).
  while (rows.length > 0 && rows[rows.length - 1] === '|') rows.pop();
  return rows;
}

/** Everything a snapshot promises to restore, read from xterm (including the internals ScreenEngine reads). */
function state(term) {
  const core = term._core;
  const active = term.buffer.active;
  return {
    normal: dumpBuffer(term, term.buffer.normal),
    alt: active.type === 'alternate' ? dumpBuffer(term, term.buffer.alternate) : null,
    cursor: { x: active.cursorX, y: active.cursorY },
    attrs: sgrAbsolute(core._inputHandler._curAttrData),
    margins: [core.buffer.scrollTop, core.buffer.scrollBottom],
    cursorHidden: core.coreService.isCursorHidden,
    cursorStyle: core.coreService.decPrivateModes.cursorStyle ?? null,
    cursorBlink: core.coreService.decPrivateModes.cursorBlink ?? null,
    mouseEncoding: core.coreMouseService.activeEncoding,
    modes: { ...term.modes, synchronizedOutputMode: false },
  };
}

/** Feeds `chunks` to a spool and a reference terminal; returns both states and the snapshot. */
async function roundTrip(chunks, { engine = 'inline', cols = COLS, rows = ROWS, title = false } = {}) {
  const spool = new ScreenSpool({ cols, rows, scrollbackLines: SCROLLBACK, reply: () => {}, engine });
  const ref = newTerm(cols, rows);
  let refTitle = null;
  ref.onTitleChange((t) => (refTitle = t));
  for (const c of chunks) {
    const b = Buffer.from(c);
    spool.write(b);
    await feed(ref, b);
  }
  const snap = await spool.snapshot();
  spool.dispose();
  const restored = newTerm(cols, rows);
  let restoredTitle = null;
  restored.onTitleChange((t) => (restoredTitle = t));
  await feed(restored, snap);
  const result = { snap: snap.toString(), ref, restored, expected: state(ref), actual: state(restored) };
  if (title) Object.assign(result, { refTitle, restoredTitle });
  return result;
}

/** Row `y` of the screen (viewport), trailing blanks trimmed. */
const lineText = (term, y, buf = term.buffer.active) => buf.getLine(buf.baseY + y)?.translateToString(true).trimEnd() ?? '';
/** Row `y` counted from the top of the scrollback. */
const bufferText = (buf, y) => buf.getLine(y)?.translateToString(true).trimEnd() ?? '';

test('plain text and echo MARK', async () => {
  const { expected, actual, restored } = await roundTrip(['user@host:~$ echo MARK\r\n', 'MARK\r\n', 'user@host:~$ ']);
  assert.deepEqual(actual, expected);
  assert.equal(lineText(restored, 1), 'MARK');
  assert.deepEqual(actual.cursor, { x: 13, y: 2 });
});

test('colours and attributes', async () => {
  const { expected, actual, restored } = await roundTrip([
    '\x1b[31mred\x1b[0m \x1b[1;4mbold-under\x1b[0m \x1b[7minv\x1b[27m \x1b[38;5;200m256\x1b[0m ',
    '\x1b[38;2;10;20;30;48;2;200;100;50mrgb\x1b[0m \x1b[2;3;9mdim-it-strike\x1b[0m\r\n',
    '\x1b[44m   blue background to the end\x1b[K\x1b[0m\r\n',
    '\x1b[32m', // left on: new text must come out green
  ]);
  assert.deepEqual(actual, expected);
  assert.ok(restored.buffer.active.getLine(0).getCell(0).isFgPalette());
  assert.equal(actual.attrs, '\x1b[0;32m');
});

test('cursor position', async () => {
  const { expected, actual } = await roundTrip(['some\r\ntext\r\n', '\x1b[10;33H', 'X', '\x1b[5;7H']);
  assert.deepEqual(actual, expected);
  assert.deepEqual(actual.cursor, { x: 6, y: 4 });
});

test('alternate screen restored over the normal buffer, cursor in place', async () => {
  const chunks = [
    '$ ls\r\nfile-a  file-b\r\n$ vim\r\n',
    '\x1b[?1049h\x1b[H\x1b[2J',
    '\x1b[1;1H+------+\x1b[2;1H| vim  |\x1b[3;1H+------+',
    '\x1b[20;1H\x1b[7m-- INSERT --\x1b[0m\x1b[2;4H',
  ];
  const { expected, actual, restored, ref } = await roundTrip(chunks);
  assert.equal(restored.buffer.active.type, 'alternate');
  assert.deepEqual(actual, expected);
  assert.deepEqual(actual.cursor, { x: 3, y: 1 });
  // Leaving the alternate screen later shows the normal buffer as it was, cursor included.
  await feed(ref, '\x1b[?1049l');
  await feed(restored, '\x1b[?1049l');
  assert.deepEqual(state(restored), state(ref));
  assert.equal(lineText(restored, 2, restored.buffer.normal), '$ vim');
});

test('a 16 KiB single line and a long wrapped line', async () => {
  const long = Array.from({ length: 16 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  for (const chunks of [[long], ['start\r\n', 'w'.repeat(500), '\r\nafter wrap\r\n$ ']]) {
    const { expected, actual } = await roundTrip(chunks);
    assert.deepEqual(actual, expected);
  }
  // The wrapped line really is a wrapped line in the restored terminal.
  const { restored } = await roundTrip(['w'.repeat(200)]);
  assert.equal(restored.buffer.active.getLine(1).isWrapped, true);
  assert.equal(restored.buffer.active.getLine(2).isWrapped, true);
});

test('scrollback comes back, up to the limit', async () => {
  const lines = Array.from({ length: 300 }, (_, i) => `line ${i}\r\n`);
  const { expected, actual, restored } = await roundTrip(lines);
  assert.deepEqual(actual, expected);
  assert.equal(restored.buffer.normal.length, SCROLLBACK + ROWS);
  assert.equal(bufferText(restored.buffer.normal, 0), 'line 77');
});

test('modes the serializer misses are re-sent', async () => {
  const cases = [
    ['hidden cursor', '\x1b[?25l', (s) => s.cursorHidden === true],
    ['SGR mouse', '\x1b[?1000h\x1b[?1006h', (s) => s.mouseEncoding === 'SGR' && s.modes.mouseTrackingMode === 'vt200'],
    ['button-event mouse', '\x1b[?1002h', (s) => s.modes.mouseTrackingMode === 'drag'],
    ['any-event mouse', '\x1b[?1003h', (s) => s.modes.mouseTrackingMode === 'any'],
    ['X10 mouse', '\x1b[?9h', (s) => s.modes.mouseTrackingMode === 'x10'],
    ['SGR-pixels mouse', '\x1b[?1016h', (s) => s.mouseEncoding === 'SGR_PIXELS'],
    ['scroll region, cursor not at home', 'a\r\nb\r\n\x1b[5;15r\x1b[8;12H', (s) => s.margins[0] === 4 && s.margins[1] === 14 && s.cursor.y === 7 && s.cursor.x === 11],
    ['cursor style', '\x1b[6 q', (s) => s.cursorStyle === 'bar' && s.cursorBlink === false],
    ['blinking underline', '\x1b[3 q', (s) => s.cursorStyle === 'underline' && s.cursorBlink === true],
    ['bracketed paste', '\x1b[?2004h', (s) => s.modes.bracketedPasteMode],
    ['application cursor keys', '\x1b[?1h', (s) => s.modes.applicationCursorKeysMode],
    ['application keypad (DECKPAM)', '\x1b=', (s) => s.modes.applicationKeypadMode],
    ['application keypad (?66)', '\x1b[?66h', (s) => s.modes.applicationKeypadMode],
    ['origin mode with margins', '\x1b[3;10r\x1b[?6h\x1b[4;5H', (s) => s.modes.originMode && s.cursor.y === 5 && s.cursor.x === 4],
    ['autowrap off', '\x1b[?7l', (s) => s.modes.wraparoundMode === false],
    ['focus reporting', '\x1b[?1004h', (s) => s.modes.sendFocusMode],
    ['insert mode', '\x1b[4h', (s) => s.modes.insertMode],
    ['reverse wraparound', '\x1b[?45h', (s) => s.modes.reverseWraparoundMode],
  ];
  for (const [name, seq, check] of cases) {
    const { expected, actual } = await roundTrip(['$ app\r\n', seq]);
    assert.ok(check(expected), `${name}: the reference terminal did not take it`);
    assert.deepEqual(actual, expected, name);
  }
  // Encodings xterm.js itself ignores are re-sent from the parser hooks.
  for (const mode of [1005, 1015]) {
    const { snap } = await roundTrip([`\x1b[?1000h\x1b[?${mode}h`]);
    assert.ok(snap.includes(`\x1b[?${mode}h`), `?${mode}h missing`);
    const off = await roundTrip([`\x1b[?${mode}h\x1b[?${mode}l`]);
    assert.ok(!off.snap.includes(`\x1b[?${mode}h`), `?${mode} re-sent after it was reset`);
  }
  // The window title.
  const t = await roundTrip(['\x1b]2;my title\x07', '\x1b]0;newer title\x07'], { title: true });
  assert.equal(t.refTitle, 'newer title');
  assert.equal(t.restoredTitle, 'newer title');
});

test('modes that were switched off stay off (a resynchronised terminal is corrected)', async () => {
  const { snap } = await roundTrip(['\x1b[?25l\x1b[?1006h\x1b[?1000h\x1b[?2004h', '\x1b[?25h\x1b[?1006l\x1b[?1000l\x1b[?2004l']);
  for (const seq of ['\x1b[?25h', '\x1b[?1006l', '\x1b[?1000l', '\x1b[?2004l']) assert.ok(snap.includes(seq), JSON.stringify(seq));
  assert.ok(snap.endsWith('\x1b[?25h\x1b[?2026l'));
});

test('a cursor waiting to wrap (just past the last column) keeps waiting', async () => {
  const { expected, actual, restored, ref } = await roundTrip(['$ ' + 'x'.repeat(COLS - 2)]);
  assert.deepEqual(actual, expected);
  await feed(ref, 'Y');
  await feed(restored, 'Y');
  assert.deepEqual(state(restored), state(ref));
  assert.equal(lineText(restored, 1), 'Y');
});

test('lines mode replays only the last N lines', async () => {
  const spool = new LinesSpool(5, { cols: COLS, rows: ROWS, reply: () => {}, engine: 'inline' });
  for (let i = 0; i < 100; i++) spool.write(Buffer.from(`\x1b[3${i % 8}mline ${i}\x1b[0m\r\n`));
  spool.write(Buffer.from('$ '));
  const snap = await spool.snapshot();
  spool.dispose();
  const restored = newTerm();
  await feed(restored, snap);
  const text = Array.from({ length: ROWS }, (_, y) => lineText(restored, y)).filter((l) => l !== '');
  assert.deepEqual(text, ['line 96', 'line 97', 'line 98', 'line 99', '$']);
  assert.deepEqual([restored.buffer.active.cursorX, restored.buffer.active.cursorY], [2, 4]);
  assert.ok(restored.buffer.active.getLine(0).getCell(0).isFgPalette(), 'colours kept');
});

test('capture: plain text and ANSI', async () => {
  const spool = new ScreenSpool({ cols: 40, rows: 5, scrollbackLines: 100, reply: () => {}, engine: 'inline' });
  for (let i = 0; i < 10; i++) spool.write(Buffer.from(`row ${i}   \r\n`));
  spool.write(Buffer.from('\x1b[1;31mred\x1b[0m $ '));
  assert.equal(await spool.capture({ scrollback: 0, ansi: false }), 'row 6\nrow 7\nrow 8\nrow 9\nred $\n');
  assert.equal(await spool.capture({ scrollback: 2, ansi: false }), 'row 4\nrow 5\nrow 6\nrow 7\nrow 8\nrow 9\nred $\n');
  const ansi = await spool.capture({ scrollback: 0, ansi: true });
  assert.ok(ansi.endsWith('\x1b[0;1;31mred\x1b[0m $\n'), JSON.stringify(ansi));
  spool.dispose();
  // "simple" keeps no screen: capture says so instead of an empty success.
  await assert.rejects(new NullSpool().capture({ scrollback: 10, ansi: false }), CaptureUnavailable);
});

test('snapshot reflects exactly the bytes written before it was called', async () => {
  for (const engine of ['inline', 'worker']) {
    const spool = new ScreenSpool({ cols: COLS, rows: ROWS, reply: () => {}, engine });
    let text = '';
    for (let i = 0; i < 20000; i++) text += `${i}\r\n`;
    spool.write(Buffer.from(text));
    spool.write(Buffer.from('LAST BEFORE'));
    const pending = spool.snapshot();
    spool.write(Buffer.from('\r\nAFTER'));
    const restored = newTerm();
    await feed(restored, await pending);
    const screen = Array.from({ length: ROWS }, (_, y) => lineText(restored, y));
    assert.equal(screen[ROWS - 1], 'LAST BEFORE', engine);
    assert.equal(screen[ROWS - 2], '19999', engine);
    assert.ok(!screen.includes('AFTER'), engine);
    const cap = await spool.capture({ scrollback: 0, ansi: false });
    assert.ok(cap.endsWith('LAST BEFORE\nAFTER\n'), engine);
    spool.dispose();
  }
});

test('answers to terminal queries go to the reply callback', async () => {
  for (const engine of ['inline', 'worker']) {
    const replies = [];
    const spool = new ScreenSpool({ cols: COLS, rows: ROWS, reply: (d) => replies.push(d.toString('latin1')), engine });
    spool.write(Buffer.from('ab\r\ncd\x1b[c\x1b[6n'));
    await spool.snapshot();
    assert.deepEqual(replies, ['\x1b[?1;2c', '\x1b[2;3R'], engine);
    spool.dispose();
  }
});

test('resize: earlier output at the old size, the snapshot at the new one', async () => {
  for (const engine of ['inline', 'worker']) {
    const spool = new ScreenSpool({ cols: 40, rows: 10, scrollbackLines: 50, reply: () => {}, engine });
    const ref = newTerm(40, 10, 50);
    const before = Buffer.from('0123456789'.repeat(6) + '\r\n$ ');
    spool.write(before);
    await feed(ref, before);
    spool.resize(30, 8);
    ref.resize(30, 8);
    const after = Buffer.from('\x1b[8;1Hbottom');
    spool.write(after);
    await feed(ref, after);
    const snap = await spool.snapshot();
    spool.dispose();
    const restored = newTerm(30, 8, 50);
    await feed(restored, snap);
    assert.deepEqual(state(restored), state(ref), engine);
    assert.equal(lineText(restored, 7), 'bottom');
  }
});

test('a flood through the worker comes back as its last screen', async () => {
  const spool = createSpool('screen', { cols: 120, rows: 40, reply: () => {} });
  let text = '';
  for (let i = 1; i <= 300_000; i++) text += `${i}\r\n`;
  const data = Buffer.from(text);
  for (let o = 0; o < data.length; o += 4096) spool.write(data.subarray(o, o + 4096));
  const snap = await spool.snapshot();
  spool.dispose();
  const restored = newTerm(120, 40, 1000);
  await feed(restored, snap);
  assert.equal(restored.buffer.normal.length, 1040);
  assert.equal(bufferText(restored.buffer.normal, 0), String(300_000 - 1038));
  assert.equal(lineText(restored, 38), '300000');
});

test('createSpool picks the mode; dispose settles pending queries', async () => {
  const reply = () => {};
  assert.ok(createSpool('simple', { cols: 80, rows: 24, reply }) instanceof NullSpool);
  const lines = createSpool({ lines: 3 }, { cols: 80, rows: 24, reply, engine: 'inline' });
  assert.ok(lines instanceof LinesSpool);
  lines.dispose();
  const screen = createSpool('screen', { cols: 80, rows: 24, reply });
  assert.ok(screen instanceof ScreenSpool);
  screen.write(Buffer.from('x'.repeat(100000)));
  const pending = screen.snapshot();
  screen.dispose();
  assert.equal(await pending, null);
  assert.equal(await screen.snapshot(), null);
  assert.equal(await screen.capture({ scrollback: 0, ansi: false }), '');
});
