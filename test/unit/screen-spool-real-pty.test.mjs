// A real program through a real pty: bash, a flood, then vim (alternate screen,
// scroll region, cursor keys, mouse…). The spool's snapshot, written into a blank
// terminal, must match a terminal that saw the whole output; so must the snapshot
// taken after vim exits (the normal buffer under the alternate screen).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import pty from 'node-pty';
import { createSpool } from '../../dist/restore/create-spool.js';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless');

const has = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const COLS = 100;
const ROWS = 30;
const newTerm = () => new Terminal({ cols: COLS, rows: ROWS, scrollback: 1000, allowProposedApi: true });
const feed = (term, data) => new Promise((r) => term.write(data, r));
const dump = (buf) => Array.from({ length: buf.length }, (_, y) => buf.getLine(y).translateToString(true));
const screenText = (term) => dump(term.buffer.active).join('\n');

function compare(ref, out, label) {
  assert.equal(out.buffer.active.type, ref.buffer.active.type, label);
  assert.deepEqual(dump(out.buffer.normal), dump(ref.buffer.normal), `${label}: normal buffer`);
  if (ref.buffer.active.type === 'alternate') assert.deepEqual(dump(out.buffer.alternate), dump(ref.buffer.alternate), `${label}: alternate screen`);
  assert.deepEqual([out.buffer.active.cursorX, out.buffer.active.cursorY], [ref.buffer.active.cursorX, ref.buffer.active.cursorY], `${label}: cursor`);
  assert.deepEqual(out.modes, ref.modes, `${label}: modes`);
  const margins = (t) => [t._core.buffer.scrollTop, t._core.buffer.scrollBottom, t._core.coreService.isCursorHidden];
  assert.deepEqual(margins(out), margins(ref), `${label}: margins, cursor visibility`);
}

test('bash, a flood and vim come back as they were', { skip: (has('vim') && has('bash')) || process.env.CI ? false : 'vim or bash is not installed' }, async () => {
  const ref = newTerm();
  const spool = createSpool('screen', { cols: COLS, rows: ROWS, reply: (d) => shell.write(d.toString('latin1')) });
  const shell = pty.spawn('bash', ['--norc', '--noprofile', '-i'], {
    cols: COLS,
    rows: ROWS,
    encoding: null,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', PS1: '\\[\\e[32m\\]me\\[\\e[0m\\]$ ' },
  });
  shell.onData((d) => {
    spool.write(d);
    ref.write(d);
  });
  /** Waits until the reference terminal shows `pattern` (output is asynchronous; no fixed sleeps). */
  const until = async (pattern) => {
    for (let i = 0; i < 500; i++) {
      await feed(ref, '');
      if (pattern.test(screenText(ref))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`timed out waiting for ${pattern}`);
  };
  try {
    await until(/me\$ $/m);
    shell.write('seq 1 20000; echo DONE-$((6*7))\r');
    await until(/^DONE-42$/m);
    shell.write('vim -u NONE -N -c "set nu" -c "syntax off" /etc/services\r');
    await until(/^ +1 /m);
    shell.write('30jVjj');
    await until(/-- VISUAL LINE --/);
    const out = newTerm();
    await feed(out, await spool.snapshot());
    await feed(ref, '');
    compare(ref, out, 'in vim');

    shell.write('\x1b:q!\r');
    await until(/DONE-42\n(.*\n)*me\$ vim .*\nme\$ $/m);
    const after = newTerm();
    await feed(after, await spool.snapshot());
    await feed(ref, '');
    compare(ref, after, 'after vim');
  } finally {
    shell.kill();
    spool.dispose();
  }
});
