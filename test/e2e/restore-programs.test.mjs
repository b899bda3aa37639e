// End-to-end: restoring full-screen programs (the alternate screen, vim, less) and
// the terminal modes a program set (cursor, mouse, paste, keys, scroll region,
// cursor style, title), as seen by a NEW terminal that reattaches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { makeSandbox, procState, shellReady, waitUntil, detachByKeys, reattach, skipUnless } from '../support/sandbox.mjs';
import { waitScreen } from '../support/screen.mjs';


test('an alternate-screen program: the new terminal is in the alternate buffer, ALT-SCREEN at 5;10, cursor at 8;3', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('alt');
  // %s keeps the typed command line from containing the text waited for.
  a.write("printf '\\033[?1049h\\033[2J\\033[5;10HALT-%s\\033[8;3H' SCREEN; sleep 1000\r");
  await a.waitFor('ALT-SCREEN');
  await detachByKeys(a);

  const b = await reattach(sb, 'alt');
  const screen = await waitScreen(
    b,
    (s) => s.bufferType() === 'alternate' && s.find('ALT-SCREEN') && s.cursor().row === 8 && s.cursor().col === 3,
    { message: 'ALT-SCREEN restored in the alternate buffer with the cursor at 8;3' },
  );
  assert.deepEqual(screen.find('ALT-SCREEN'), { row: 5, col: 10 });
  assert.equal(screen.lines().filter((l) => l !== '').length, 1, `only ALT-SCREEN on the alternate screen:\n${screen.dump()}`);
  // The shell's screen is kept underneath, in the normal buffer.
  const normal = [];
  const nb = screen.term.buffer.normal;
  for (let y = 0; y < nb.length; y++) normal.push(nb.getLine(y).translateToString(true));
  assert.ok(normal.some((l) => l.includes("printf '\\033[?1049h")), `the normal buffer holds the shell's screen: ${JSON.stringify(normal.filter(Boolean))}`);
  assert.equal(screen.cursorHidden(), false);
});

test('vim: after reattach the file text is visible, and :q! returns to the shell prompt', { skip: skipUnless('/usr/bin/vim') }, async (t) => {
  const sb = await makeSandbox(t);
  writeFileSync(sb.path('h', 'notes.txt'), 'first line of the file\nVIMTEXT second line 42\nthird\n');
  const a = await sb.attachShell('vim');
  a.write('vim -u NONE -i NONE notes.txt\r');
  await a.waitFor('VIMTEXT second line 42');
  await detachByKeys(a);

  const b = await reattach(sb, 'vim');
  const screen = await waitScreen(b, (s) => s.bufferType() === 'alternate' && s.find('VIMTEXT second line 42') && s.find('first line of the file'), {
    message: "vim's screen restored",
  });
  assert.deepEqual(screen.find('first line of the file'), { row: 1, col: 1 }, screen.dump());
  assert.equal(screen.row(2), 'VIMTEXT second line 42');
  assert.equal(screen.row(4), '~', "vim's empty-line markers are restored too");

  b.write('\x1b:q!\r');
  const back = await waitScreen(b, (s) => s.bufferType() === 'normal' && s.lines().some((l) => /^tshpool:vim \$ vim -u NONE/.test(l)), {
    message: 'vim gone, back on the normal screen',
  });
  assert.ok(!back.find('VIMTEXT'), `vim's text is gone from the screen:\n${back.dump()}`);
  await shellReady(b);
  assert.equal(b.exit, null);
});

test('less: after reattach the file text is visible; q returns to the shell', { skip: skipUnless('/usr/bin/less') }, async (t) => {
  const sb = await makeSandbox(t);
  const body = Array.from({ length: 60 }, (_, i) => `LESSLINE ${String(i + 1).padStart(3, '0')}`).join('\n');
  writeFileSync(sb.path('h', 'long.txt'), `${body}\n`);
  const a = await sb.attachShell('less');
  a.write('LESS= LESSHISTFILE=- less long.txt\r');
  await a.waitFor('LESSLINE 023');
  await detachByKeys(a);

  const b = await reattach(sb, 'less');
  const screen = await waitScreen(b, (s) => s.bufferType() === 'alternate' && s.find('LESSLINE 001') && s.find('LESSLINE 023'), {
    message: "less's page restored",
  });
  assert.deepEqual(screen.find('LESSLINE 001'), { row: 1, col: 1 }, screen.dump());
  assert.ok(!screen.find('LESSLINE 024'), `one page only:\n${screen.dump()}`);
  b.write('q');
  await waitScreen(b, (s) => s.bufferType() === 'normal' && !s.find('LESSLINE 001'), { message: 'less gone' });
  await shellReady(b);
});

test('modes a program set are re-sent on reattach: hidden cursor, SGR mouse, bracketed paste, app cursor keys, scroll region, cursor style, title', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('modes');
  a.write(
    "printf '\\033[?25l\\033[?1006h\\033[?1000h\\033[?2004h\\033[?1h\\033[3;10r\\033[5 q\\033]2;MYTITLE\\007MODES-%s' ON; sleep 1000\r",
  );
  await a.waitFor('MODES-ON');
  await detachByKeys(a);

  const b = await reattach(sb, 'modes');
  // The repaint ends with the modes: wait for the title, the last of them.
  const screen = await waitScreen(b, (s) => s.find('MODES-ON') && s.title === 'MYTITLE', { message: 'the restored screen and title' });
  const raw = b.output;
  for (const seq of ['\x1b[?1006h', '\x1b[?1000h', '\x1b[?2004h', '\x1b[?1h', '\x1b[3;10r', '\x1b[5 q', '\x1b]2;MYTITLE\x07']) {
    assert.ok(raw.includes(seq), `the new client received ${JSON.stringify(seq)}: ${JSON.stringify(raw.slice(-700))}`);
  }
  const m = screen.term.modes;
  assert.equal(m.mouseTrackingMode, 'vt200', 'mouse tracking (?1000) on');
  assert.equal(m.bracketedPasteMode, true);
  assert.equal(m.applicationCursorKeysMode, true);
  assert.equal(screen.cursorHidden(), true, 'the cursor stays hidden');
  const core = screen.term._core;
  assert.equal(core.coreMouseService.activeEncoding, 'SGR');
  assert.deepEqual([core.buffer.scrollTop, core.buffer.scrollBottom], [2, 9], 'scroll region 3;10');
  assert.equal(core.coreService.decPrivateModes.cursorStyle, 'bar');
});

/**
 * A terminal that stops taking output during a flood. Relaying, the client
 * process is what stops (SIGSTOP); with the terminal handed off, the daemon
 * writes to it itself, so the terminal stops reading instead (a stalled SSH
 * window). Either way the flood is dropped, not queued, the shell never waits,
 * and the terminal gets a clean repaint when it catches up.
 */
const stalls = [
  {
    mode: 'relay',
    what: 'a stopped client',
    config: 'terminal_handoff = false\n',
    stop: (a) => process.kill(a.pid, 'SIGSTOP'),
    check: (a) => assert.equal(procState(a.pid), 'T', 'the client was stopped the whole time'),
    resume: (a) => process.kill(a.pid, 'SIGCONT'),
  },
  {
    mode: 'handoff',
    what: 'a terminal that stops reading',
    config: 'terminal_handoff = true\n',
    stop: (a) => a.pause(),
    check: (a) => assert.notEqual(procState(a.pid), 'T'),
    resume: (a) => a.resume(),
  },
];
for (const stall of stalls) {
  test(`${stall.mode}: ${stall.what} gets a clean repaint when it resumes; the shell was never blocked`, async (t) => {
    const sb = await makeSandbox(t, { config: stall.config });
    const a = await sb.attachShell('slow');
    const done = sb.path('flood-done');
    stall.stop(a);
    t.after(() => {
      try {
        stall.resume(a);
      } catch {
        // gone
      }
    });
    await sb.runOk(['send', 'slow', `seq 1 3000000; echo DO""NE; touch ${done}`]);
    await sb.runOk(['send', 'slow', '--keys', 'Enter']);
    // The flood completes while the terminal takes nothing: nothing waits for it.
    const started = Date.now();
    await waitUntil(() => existsSync(done), { timeout: 30_000, message: 'the flood to finish while the terminal is stalled' });
    stall.check(a);
    const floodMs = Date.now() - started;
    stall.resume(a);

    const screen = await waitScreen(
      a,
      (s) => {
        const lines = s.lines();
        const i = lines.indexOf('DONE');
        return i > 0 && /^tshpool:slow \$ $|^tshpool:slow \$$/.test(lines[i + 1]) && s.cursor().row === i + 2;
      },
      { timeout: 20_000, message: 'DONE and a prompt on the final screen' },
    );
    const lines = screen.lines();
    const i = lines.indexOf('DONE');
    // Everything above DONE: consecutive numbers ending at 3000000, nothing torn or interleaved.
    const above = lines.slice(0, i);
    const first = Number(above[0]);
    assert.deepEqual(
      above,
      above.map((_, k) => String(first + k)),
      `consecutive lines above DONE:\n${screen.dump()}`,
    );
    assert.equal(above[above.length - 1], '3000000', screen.dump());
    assert.equal(lines.slice(i + 2).join(''), '', `nothing below the prompt:\n${screen.dump()}`);
    assert.ok(a.bytes.length < 8_000_000, `the ~21 MB flood was dropped for the stalled terminal, not queued (it got ${a.bytes.length} bytes)`);
    // The client is still attached and usable.
    assert.equal(a.exit, null);
    assert.equal((await sb.session('slow')).client_pid, a.pid);
    await shellReady(a);
    t.diagnostic(`flood finished in ${floodMs} ms with the terminal stalled; it received ${a.bytes.length} bytes`);
  });
}
