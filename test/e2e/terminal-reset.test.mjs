/**
 * The user's terminal is borrowed: whatever modes the session's program set
 * (alternate screen, mouse, focus and paste reporting, hidden cursor, application
 * cursor keys and keypad, scroll region, colours), every way out of attach and
 * view gives it back as it was — as tmux does on detach — in both
 * terminal_handoff settings. The terminal here is a headless xterm fed with every
 * byte the client's terminal received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETACH, makeSandbox, shellReady } from '../support/sandbox.mjs';
import { screenOf } from '../support/screen.mjs';
import { startTmux } from '../support/tmux.mjs';
import { execFileSync } from 'node:child_process';

/** Sets every mode a full-screen program may leave on (vim with mouse=a, top, less). */
const SET_MODES =
  "printf '\\033[?1049h\\033[?1000h\\033[?1002h\\033[?1006h\\033[?1004h\\033[?2004h\\033[?25l\\033[?1h\\033=\\033[3;10r\\033[1;31m'; echo MODES\"\"-SET\r";
/** What must follow the last byte of the session on the way out (the notice may come after). */
const RESETS = ['\x1b[?1049l', '\x1b[?25h', '\x1b[?1000l', '\x1b[?1002l', '\x1b[?1006l', '\x1b[?1004l', '\x1b[?2004l', '\x1b[?1l', '\x1b>', '\x1b[r', '\x1b[0m'];

/** Ways out of an attach (or view): each makes `term` leave. */
const WAYS_OUT = {
  'the detach keys': async (sb, term) => term.write(DETACH),
  "'tshpool detach'": async (sb) => sb.runOk(['detach', 'm']),
  'another terminal attaching with -f': async (sb) => {
    const other = sb.spawnTerm(['attach', '-f', 'm']);
    await other.waitFor('MODES-SET');
  },
  'the daemon going away': async (sb) => process.kill(await sb.daemonPid(), 'SIGKILL'),
  'the shell exiting': async (sb, term) => term.write('exit\r'),
};

async function assertGivenBack(term, since) {
  await term.waitExit(10_000);
  const bytes = term.bytes;
  const after = bytes.subarray(since).toString('latin1');
  for (const seq of RESETS) assert.ok(after.includes(seq), `${JSON.stringify(seq)} was written on the way out`);
  const last = Math.max(...RESETS.map((seq) => after.lastIndexOf(seq) + seq.length));
  assert.doesNotMatch(after.slice(last), /\x1b/, 'nothing of the session after the reset, only the notice');
  const s = await screenOf(bytes, { cols: term.cols, rows: term.rows });
  assert.equal(s.bufferType(), 'normal', 'back on the normal screen');
  assert.equal(s.cursorHidden(), false, 'cursor visible');
  const m = s.term.modes;
  assert.equal(m.mouseTrackingMode, 'none', 'mouse reporting off');
  assert.equal(m.sendFocusMode, false, 'focus reporting off');
  assert.equal(m.bracketedPasteMode, false, 'bracketed paste off');
  assert.equal(m.applicationCursorKeysMode, false, 'normal cursor keys');
  assert.equal(m.applicationKeypadMode, false, 'numeric keypad');
  const buf = s.term._core.buffer;
  assert.deepEqual([buf.scrollTop, buf.scrollBottom], [0, term.rows - 1], 'scroll region is the whole screen');
}

for (const handoff of [true, false]) {
  test(`terminal_handoff = ${handoff}: every way out of attach gives the terminal back as it was`, { concurrency: true }, async (t) => {
    await Promise.all(
      Object.entries(WAYS_OUT).map(([way, leave]) =>
        t.test(way, async (t) => {
          const sb = await makeSandbox(t, { config: `terminal_handoff = ${handoff}\n` });
          const a = await sb.attachShell('m');
          a.write(SET_MODES);
          await a.waitFor('MODES-SET');
          const since = a.bytes.length;
          await leave(sb, a);
          await assertGivenBack(a, since);
        }),
      ),
    );
  });

  test(`terminal_handoff = ${handoff}: leaving view gives the terminal back as it was`, async (t) => {
    const sb = await makeSandbox(t, { config: `terminal_handoff = ${handoff}\n` });
    const a = await sb.attachShell('m');
    a.write(SET_MODES);
    await a.waitFor('MODES-SET');
    const v = sb.spawnTerm(['view', 'm']);
    await v.waitFor('MODES-SET');
    const since = v.bytes.length;
    v.write(DETACH);
    await assertGivenBack(v, since);
  });
}

test('detaching from a plain shell leaves the cursor where it is (no alternate-screen switch that would move it)', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('plain');
  const since = a.bytes.length;
  a.write(DETACH);
  await a.waitExit(10_000);
  const after = a.bytes.subarray(since).toString('latin1');
  assert.ok(after.includes('\x1b[?25h'), 'the reset was written');
  assert.ok(!after.includes('\x1b[?1049l'), 'no 1049l: it would restore a cursor saved long ago');
});

for (const handoff of [true, false]) {
  test(`terminal_handoff = ${handoff}, in tmux: after detaching from vim with mouse=a the outer prompt is on the normal screen, cursor visible, mouse off`, async (t) => {
    skipUnlessTmuxAndVim(t);
    const sb = await makeSandbox(t, { config: `terminal_handoff = ${handoff}\n` });
    const tm = await startTmux(t, sb);
    await tm.type('$TSHPOOL attach v');
    await tm.waitText(/\$\s*$/m);
    await tm.type("vim -u NONE -N -c 'set mouse=a' -c 'set t_ve=' -c 'echo \"VIM\"..\"-READY\"'");
    await tm.waitText(/VIM-READY/);
    assert.equal((await tm.flags()).alternate_on, '1', 'vim is on the alternate screen');
    await tm.keys(['C-Space', 'C-q']);
    await tm.waitText(/detached from session 'v'\n(.*\n)*outer\$\s*$/m);
    const flags = await tm.flags();
    assert.deepEqual(
      { alt: flags.alternate_on, cursor: flags.cursor_flag, mouse: flags.mouse_any_flag, keys: flags.keypad_cursor_flag, keypad: flags.keypad_flag },
      { alt: '0', cursor: '1', mouse: '0', keys: '0', keypad: '0' },
    );
    assert.doesNotMatch(await tm.screen(), /VIM-READY|~\s*\n~/, 'nothing of vim is left on the screen');
  });
}

function skipUnlessTmuxAndVim(t) {
  for (const bin of ['tmux', 'vim']) {
    try {
      execFileSync('which', [bin]);
    } catch {
      t.skip(`${bin} is not installed`);
    }
  }
}
