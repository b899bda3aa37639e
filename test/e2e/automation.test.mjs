// End-to-end: driving sessions from scripts — `tshpool send` (text and --keys) and
// `tshpool capture` (screen, --scrollback, --ansi), attached or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { makeSandbox, procCmdline, waitUntil } from '../support/sandbox.mjs';

/** `tshpool capture NAME ...args` stdout (must exit 0). */
async function capture(sb, name, ...args) {
  return (await sb.runOk(['capture', name, ...args])).stdout;
}

/** The capture over the socket: cheap to poll (no CLI process per look). */
async function rawCapture(sb, name, scrollback = 0, ansi = false) {
  const c = await sb.connectRaw();
  try {
    const reply = await c.request({ type: 'capture', name, scrollback, ansi });
    if (reply.type !== 'capture') throw new Error(JSON.stringify(reply));
    return reply.text;
  } finally {
    c.destroy();
  }
}

/**
 * Waits until `pred(capture text)` holds (polling over the socket), then runs
 * `tshpool capture NAME ...args`, which must satisfy it too; returns its output.
 */
async function waitCapture(sb, name, pred, { args = [], message = 'capture to match', timeout = 10_000 } = {}) {
  let last = '';
  try {
    await waitUntil(
      async () => {
        last = await rawCapture(sb, name);
        return pred(last);
      },
      { timeout, interval: 30, message },
    );
  } catch (err) {
    err.message += `; last capture: ${JSON.stringify(last)}`;
    throw err;
  }
  const text = await capture(sb, name, ...args);
  assert.ok(pred(text), `tshpool capture ${name}: ${JSON.stringify(text)}`);
  return text;
}

const lines = (text) => text.split('\n');
const hasLine = (line) => (text) => lines(text).includes(line);

/** Types `cmd` and Enter into session `name` with two `send` calls. */
async function sendLine(sb, name, cmd) {
  await sb.runOk(['send', name, cmd]);
  await sb.runOk(['send', name, '--keys', 'Enter']);
}

test('send + send --keys Enter runs a command and capture shows its output, detached and attached', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'auto']);
  await sendLine(sb, 'auto', 'echo HEL""LO');
  const text = await waitCapture(sb, 'auto', hasLine('HELLO'), { message: 'HELLO on the detached session' });
  assert.ok(lines(text).some((l) => l.includes('echo HEL""LO')), 'the typed command is on the screen too');
  assert.ok(!text.includes('\x1b'), 'plain text');

  const term = await sb.attachShell('auto');
  await sendLine(sb, 'auto', 'echo AT""TACHED');
  await waitCapture(sb, 'auto', hasLine('ATTACHED'), { message: 'ATTACHED on the attached session' });
  // The attached terminal sees what was sent, like typed input.
  await term.waitFor(/\nATTACHED\r*\n/);
  // send joins its words with spaces; --keys mixes key names and text.
  await sb.runOk(['send', 'auto', 'echo', 'TWO""WORDS', 'JOI""NED']);
  await sb.runOk(['send', 'auto', '--keys', 'Enter', 'echo KE""YS', 'Enter']);
  const after = await waitCapture(sb, 'auto', (s) => hasLine('TWOWORDS JOINED')(s) && hasLine('KEYS')(s), { message: 'both sends' });
  assert.ok(after.endsWith('tshpool:auto $\n') || after.endsWith('tshpool:auto $ \n'), `ends with the prompt: ${JSON.stringify(after.slice(-80))}`);
});

test('send --keys C-c interrupts a running command and the prompt comes back', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'intr']);
  const shellPid = (await sb.session('intr')).pid;
  await sendLine(sb, 'intr', 'sleep 100');
  // The sleep runs (a child of the shell), so the prompt is not back.
  const sleepPid = await waitUntil(
    () => {
      const children = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      return children.find((p) => procCmdline(p)?.join(' ') === 'sleep 100');
    },
    { message: 'sleep 100 to run' },
  );
  await sb.runOk(['send', 'intr', '--keys', 'C-c']);
  await waitUntil(() => procCmdline(sleepPid) === null, { message: 'sleep to be interrupted' });
  await waitCapture(sb, 'intr', (s) => /tshpool:intr \$ sleep 100\n(?:\^C\n)?tshpool:intr \$ ?\n$/.test(s), {
    message: 'the prompt back after ^C',
  });
  await sendLine(sb, 'intr', 'echo AF""TER');
  await waitCapture(sb, 'intr', hasLine('AFTER'), { message: 'the shell takes commands again' });
});

test('capture and send of an unknown session exit 1 with a message', async (t) => {
  const sb = await makeSandbox(t);
  for (const args of [['capture', 'nosuch'], ['send', 'nosuch', 'x'], ['send', 'nosuch', '--keys', 'Enter']]) {
    const r = await sb.run(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /nosuch/);
    assert.equal(r.stdout, '');
  }
});

test('capture --scrollback N adds up to N lines that scrolled off the screen', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'sb']);
  await sendLine(sb, 'sb', 'seq 1 100; echo DO""NE');
  const screen = await waitCapture(sb, 'sb', hasLine('DONE'), { message: 'the seq output' });
  // 24 rows: the screen holds the last numbers only.
  assert.ok(lines(screen).includes('100'));
  assert.ok(!lines(screen).includes('60'), `60 scrolled off: ${JSON.stringify(screen)}`);
  const withScrollback = await capture(sb, 'sb', '--scrollback', '50');
  const wl = lines(withScrollback);
  assert.ok(wl.includes('60') && wl.includes('40'), `lines above the screen: ${JSON.stringify(withScrollback)}`);
  assert.equal(wl.length - lines(screen).length, 50, 'exactly 50 more lines');
  assert.ok(withScrollback.endsWith(screen), 'then the screen');
  const all = lines(await capture(sb, 'sb', '--scrollback', '1000'));
  assert.ok(all.includes('1') && all.includes('2'), 'everything, when asked for more than there is');
  const bad = await sb.run(['capture', 'sb', '--scrollback', 'lots']);
  assert.equal(bad.code, 2, bad.stderr);
});

test('capture --ansi keeps colours as escape sequences; plain capture has none', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'col']);
  await sendLine(sb, 'col', "printf '\\033[31mRED%s\\033[0m plain\\n' TEXT");
  const plain = await waitCapture(sb, 'col', hasLine('REDTEXT plain'), { message: 'the red text' });
  assert.ok(!plain.includes('\x1b'), JSON.stringify(plain));
  const ansi = await capture(sb, 'col', '--ansi');
  const line = lines(ansi).find((l) => l.includes('REDTEXT'));
  assert.match(line, /^\x1b\[(?:0;)?31mREDTEXT\x1b\[0m plain$/, JSON.stringify(line));
});
