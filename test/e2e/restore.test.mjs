// End-to-end: what a reattaching terminal sees, per `session_restore_mode`
// ("screen", { lines = N }, "simple"), for long and wrapped lines. Every check runs
// the bytes the new client printed through a headless xterm of the same size and
// looks at its screen, i.e. at what a user would see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSandbox, shellReady, detachByKeys, reattach } from '../support/sandbox.mjs';
import { screenOf, waitScreen } from '../support/screen.mjs';


/** The screen of everything `term` printed so far (an emulator of its size). */
const screenNow = (term) => screenOf(term.bytes, { cols: term.cols, rows: term.rows });

/**
 * Prints EARLY, 1..10, MARK in session `name` (typed so that the echo of the command
 * line contains neither word), detaches, reattaches in a new terminal, waits until
 * the shell answers there and returns the new terminal and its screen.
 */
async function markDetachReattach(sb, name) {
  const a = await sb.attachShell(name);
  a.write('echo EAR""LY; seq 1 10; echo MA""RK\r');
  await a.waitFor(/MARK\r*\n/);
  await detachByKeys(a);
  const b = await reattach(sb, name);
  // Live output is sent after the restored screen, so once the shell's answer
  // arrived, the restore (if any) is complete.
  await shellReady(b);
  return { b, screen: await screenNow(b) };
}

test('"screen" (default): the reattached terminal shows the screen it left, MARK included, prompt and all', async (t) => {
  const sb = await makeSandbox(t);
  const { screen } = await markDetachReattach(sb, 'scr');
  const lines = screen.lines();
  const mark = lines.indexOf('MARK');
  assert.ok(mark >= 0, `MARK on the screen:\n${screen.dump()}`);
  assert.ok(lines.includes('EARLY'), `the whole screen is restored, EARLY too:\n${screen.dump()}`);
  assert.deepEqual(lines.slice(mark - 10, mark), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'], screen.dump());
  // The prompt the shell printed after MARK is restored on the next row, and the new command follows it.
  assert.match(lines[mark + 1], /^tshpool:scr \$ echo R\$\(\(\d+\+1\)\)Y$/, screen.dump());
  assert.equal(screen.bufferType(), 'normal');
  assert.equal(screen.cursorHidden(), false, 'the cursor is visible again after the repaint');
});

test('{ lines = 5 }: the reattached terminal shows the last 5 lines (MARK), not the earlier ones', async (t) => {
  const sb = await makeSandbox(t, { config: 'session_restore_mode = { lines = 5 }\n' });
  const { screen } = await markDetachReattach(sb, 'lin');
  const lines = screen.lines();
  assert.ok(lines.includes('MARK'), `MARK restored:\n${screen.dump()}`);
  // 5 lines up to the cursor's (the prompt): 8, 9, 10, MARK, prompt.
  const mark = lines.indexOf('MARK');
  assert.deepEqual(lines.slice(0, mark + 1), ['8', '9', '10', 'MARK'], screen.dump());
  assert.ok(!screen.allLines().includes('EARLY'), `EARLY is older than 5 lines:\n${screen.dump()}`);
});

test('"simple": nothing of the old screen is replayed on reattach; the shell works', async (t) => {
  const sb = await makeSandbox(t, { config: 'session_restore_mode = "simple"\n' });
  const { b, screen } = await markDetachReattach(sb, 'sim');
  assert.ok(!b.output.includes('MARK'), `MARK must not be replayed; got ${JSON.stringify(b.output.slice(0, 500))}`);
  assert.ok(!screen.allLines().some((l) => l.includes('MARK') || l.includes('EARLY')), screen.dump());
});

test('a 16 KiB single line is restored in full: every x, the tail just above the prompt', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('big');
  a.write("head -c 16384 /dev/zero | tr '\\0' x; echo; echo END$((1+1))\r");
  await a.waitFor('END2');
  await detachByKeys(a);
  const b = await reattach(sb, 'big');
  const screen = await waitScreen(b, (s) => s.lines().includes('END2'), { message: 'the restored screen' });
  const lines = screen.lines();
  const end = lines.indexOf('END2');
  // 16384 = 204 * 80 + 64: the last row of x's holds 64, the rows above it 80 each.
  assert.equal(lines[end - 1], 'x'.repeat(64), screen.dump());
  for (let r = end - 2; r >= 0 && /^x+$/.test(lines[r]); r--) assert.equal(lines[r], 'x'.repeat(80), `row ${r + 1}:\n${screen.dump()}`);
  assert.ok(lines.slice(0, end - 1).every((l) => l === 'x'.repeat(80)), `the screen above is all x's:\n${screen.dump()}`);
  // With the scrollback the terminal received, the line is complete.
  const xs = screen
    .allLines()
    .filter((l) => /^x+$/.test(l))
    .join('');
  assert.equal(xs.length, 16384, 'all 16384 x restored (scrollback + screen)');
});

test('a long wrapped line is restored as one wrapped line, also into a narrower terminal', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('wrap');
  // 1,2,...,100 is 291 characters: 4 rows at 80 columns.
  const expected = Array.from({ length: 100 }, (_, i) => i + 1).join(',');
  a.write('seq -s, 1 100\r');
  await a.waitFor(/,99,100\r*\n/);
  await detachByKeys(a);

  const logical = (screen) => {
    const buf = screen.term.buffer.active;
    const out = [];
    for (let y = 0; y < buf.length; y++) {
      const line = buf.getLine(y);
      const s = line.translateToString(true);
      if (line.isWrapped && out.length) out[out.length - 1] += s;
      else out.push(s);
    }
    return out;
  };

  const b = await reattach(sb, 'wrap');
  let screen = await waitScreen(b, (s) => logical(s).includes(expected), { message: 'the wrapped line on the restored screen' });
  const row = screen.lines().findIndex((l) => l.startsWith('1,2,3,'));
  assert.ok(row >= 0, screen.dump());
  assert.equal(screen.lines()[row].length, 80, 'the first row is full: the line wraps, it was not broken with CR LF');
  assert.ok(screen.term.buffer.active.getLine(screen.term.buffer.active.viewportY + row + 1).isWrapped, 'the next row continues it');
  await detachByKeys(b);

  // A 50-column terminal: the session's screen is reflowed, the line stays whole.
  const c = await reattach(sb, 'wrap', { cols: 50, rows: 24 });
  screen = await waitScreen(c, (s) => logical(s).includes(expected), { message: 'the wrapped line in 50 columns' });
  assert.ok(screen.lines().every((l) => l.length <= 50));
});
