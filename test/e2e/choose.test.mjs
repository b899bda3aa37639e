// End-to-end: `tshpool choose` (and plain `tshpool` at a terminal), the full-screen
// session picker — what it shows, its keys, attaching / viewing / creating / killing
// from it, live updates from the event stream, and the terminal it leaves behind.
// The picker's output is read through a headless terminal emulator (screen.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { makeSandbox, waitUntil, procCmdline, PtyTerm, NODE, BIN, DETACH } from '../support/sandbox.mjs';
import { waitScreen } from '../support/screen.mjs';

const ESC = '\x1b';

/** Starts the sandbox's daemon and waits until it serves (see view.test.mjs for why). */
async function readyDaemon(sb) {
  sb.spawnChild(['daemon'], { stdio: 'ignore' });
  await waitUntil(() => existsSync(sb.logPath) && readFileSync(sb.logPath, 'utf8').includes('daemon started'), { message: 'the daemon to start' });
}

/** Creates detached sessions, in this order. */
async function sessions(sb, ...names) {
  for (const name of names) await sb.runOk(['attach', '-b', name]);
}

/** Waits until session `name`'s screen shows `text` (e.g. its prompt). */
async function waitCapture(sb, name, text) {
  await waitUntil(async () => (await sb.run(['capture', name])).stdout.includes(text), { message: `${JSON.stringify(text)} on the screen of ${name}` });
}

/** The picker is on screen: its title is the first row. */
const isPicker = (s) => /^ tshpool  (\d+ of )?\d+ sessions?\b/.test(s.row(1));
/** The list row of session `name` ("> name ..." when highlighted, "  name ..." otherwise), or undefined. */
const rowOf = (s, name) => s.lines().slice(2).find((l) => l.startsWith(`> ${name} `) || l.startsWith(`  ${name} `));
/** The highlighted session's name. */
const selected = (s) => /^> (\S+)/.exec(s.lines().find((l) => l.startsWith('> ')) ?? '')?.[1];

/** Waits until the picker is drawn and `pred(screen)` holds; resolves to the screen. */
function waitPicker(term, pred, message) {
  return waitScreen(term, (s) => isPicker(s) && pred(s), { message });
}

/** Opens the picker and waits until it lists `names`. */
async function openPicker(sb, names, opts = {}) {
  const term = sb.spawnTerm(opts.args ?? ['choose'], opts);
  const screen = await waitPicker(term, (s) => names.every((n) => rowOf(s, n)), `the picker listing ${names.join(', ')}`);
  return { term, screen };
}

/** Moves the highlight with `key` until `name` is highlighted. */
async function select(term, name, key = 'j') {
  for (let i = 0; i < 10; i++) {
    const s = await waitPicker(term, (x) => selected(x) !== undefined, 'a highlighted row');
    if (selected(s) === name) return;
    const before = selected(s);
    term.write(key);
    await waitPicker(term, (x) => selected(x) !== before, `the highlight to leave ${before}`);
  }
  throw new Error(`could not highlight ${name}`);
}

/**
 * Waits until the picker gave the terminal to an attach (or view) client: the normal
 * screen is back, showing the session's prompt, and the client put the terminal in raw mode.
 */
async function waitAttached(term, name) {
  await waitScreen(term, (s) => s.bufferType() === 'normal' && s.text().includes(`tshpool:${name}`), { message: `the screen of ${name} after the picker` });
  await term.waitRawMode();
}

test('the picker lists the sessions with status, age, activity and command; j/k and the arrows move; Enter attaches to the same shell', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'alpha', 'beta');
  await waitCapture(sb, 'alpha', '$');
  await sb.runOk(['send', 'alpha', '--keys', 'MARK=al$((40+2))pha', 'Enter']);
  await waitCapture(sb, 'alpha', 'MARK=');

  const { term, screen } = await openPicker(sb, ['alpha', 'beta']);
  assert.match(screen.row(2), /NAME\s+STATUS\s+AGE\s+ACTIVE\s+COMMAND/);
  assert.match(rowOf(screen, 'alpha'), /alpha\s+disconnected\s+\d+s\s+\d+s ago\s+\/bin\/bash/);
  assert.match(screen.text(), /2 sessions/);
  assert.match(screen.lines().at(-1), /Enter attach.*v view.*n new.*x kill.*\/ filter.*q quit/);

  // Moving: j/k and the arrow keys.
  const first = selected(screen);
  const second = first === 'alpha' ? 'beta' : 'alpha';
  term.write('j');
  await waitPicker(term, (s) => selected(s) === second, 'j to move down');
  term.write('k');
  await waitPicker(term, (s) => selected(s) === first, 'k to move up');
  term.write(`${ESC}[B`);
  await waitPicker(term, (s) => selected(s) === second, 'Down to move down');
  term.write(`${ESC}[A`);
  await waitPicker(term, (s) => selected(s) === first, 'Up to move up');

  // The preview shows the highlighted session's screen.
  await select(term, 'alpha');
  await waitPicker(term, (s) => s.text().includes('MARK=al$((40+2))pha'), "alpha's screen in the preview");

  term.write('\r');
  await waitAttached(term, 'alpha');
  const since = term.mark();
  term.write('echo "[$MARK]"\r');
  await term.waitFor('[al42pha]', { since });
  const s = await sb.session('alpha');
  assert.equal(s.status, 'attached');
  assert.equal(s.client_pid, term.pid, 'the picker process itself is the attached client');

  term.write(DETACH);
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(term.clean, /detached from session 'alpha'/);
});

test('n asks for a name, creates the session and attaches to it; an invalid name is refused with the reason', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  const term = sb.spawnTerm(['choose']);
  await waitPicker(term, (s) => s.text().includes('No sessions yet. Press n to create one.'), 'the empty-list hint');

  term.write('n');
  await waitPicker(term, (s) => s.text().includes('New session name:'), 'the name prompt');
  term.write('bad/name\r');
  await waitScreen(term, (s) => s.text().includes('a session name cannot contain "/"'), { message: 'the reason' });
  term.write('\x7f'.repeat('bad/name'.length) + 'fresh1\r');
  await waitAttached(term, 'fresh1');
  const since = term.mark();
  term.write('echo "$TSHPOOL_SESSION_NAME-$((2+3))"\r');
  await term.waitFor('fresh1-5', { since });
  const list = await sb.list();
  assert.deepEqual(list.map((s) => [s.name, s.status]), [['fresh1', 'attached']]);
  term.write(DETACH);
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
});

test('x asks, y kills the highlighted session; any other key keeps it', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'keep', 'doomed');
  const { term } = await openPicker(sb, ['keep', 'doomed']);
  await select(term, 'doomed');

  term.write('x');
  await waitPicker(term, (s) => s.text().includes("Kill session 'doomed'? y = yes"), 'the kill question');
  term.write('n');
  await waitPicker(term, (s) => s.text().includes('not killed'), 'the cancel notice');
  assert.deepEqual((await sb.list()).map((s) => s.name).sort(), ['doomed', 'keep']);

  term.write('x');
  await waitPicker(term, (s) => s.text().includes("Kill session 'doomed'?"), 'the kill question again');
  term.write('y');
  await waitPicker(term, (s) => !rowOf(s, 'doomed') && rowOf(s, 'keep') && s.text().includes("killed 'doomed'"), 'doomed gone from the list');
  assert.deepEqual((await sb.list()).map((s) => s.name), ['keep']);
  assert.equal(term.exit, null, 'the picker stays open');
  term.write('q');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
});

test('/ filters by name as you type; Enter keeps the filter, Esc in the prompt clears it', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'apple', 'banana', 'apricot');
  const { term } = await openPicker(sb, ['apple', 'banana', 'apricot']);

  term.write('/ap');
  let s = await waitPicker(term, (x) => !rowOf(x, 'banana') && x.text().includes('/ap'), 'the filtered list');
  assert.ok(rowOf(s, 'apple') && rowOf(s, 'apricot'));
  assert.match(s.row(1), /2 of 3 sessions\s+filter: ap/);
  term.write('r');
  s = await waitPicker(term, (x) => !rowOf(x, 'apple') && !rowOf(x, 'banana') && rowOf(x, 'apricot'), 'the narrower filter "apr"');

  term.write('\r'); // keep the filter; keys act on the list again
  await waitPicker(term, (x) => x.lines().at(-1).includes('Enter attach') && !x.text().includes('/apr'), 'the list keys back');
  term.write('/');
  await waitPicker(term, (x) => x.text().includes('/apr'), 'the filter prompt with the kept filter');
  term.write(ESC);
  await waitPicker(term, (x) => ['apple', 'banana', 'apricot'].every((n) => rowOf(x, n)), 'every session again');
  term.write('q');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
});

test('the list updates live from the event stream: sessions created, attached and killed elsewhere show without a key press', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'first');
  const { term } = await openPicker(sb, ['first']);

  await sb.runOk(['attach', '-b', 'late']);
  await waitPicker(term, (s) => rowOf(s, 'late') && s.text().includes('2 sessions'), 'the session created by another command');

  const other = await sb.attachShell('first');
  await waitPicker(term, (s) => /first\s+attached\s/.test(rowOf(s, 'first') ?? ''), 'first shown attached');

  await sb.runOk(['kill', 'late']);
  await waitPicker(term, (s) => !rowOf(s, 'late'), 'the killed session gone');
  assert.equal(other.exit, null);
  term.write(ESC);
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
});

test('Enter on a session attached elsewhere asks; v views it read-only in the same process', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  const owner = await sb.attachShell('busy');
  const { term } = await openPicker(sb, ['busy']);
  term.write('\r');
  await waitPicker(term, (s) => s.text().includes("'busy' is attached elsewhere. y = take it over, v = view"), 'the take-over question');
  term.write('v');
  await waitAttached(term, 'busy');
  owner.write('echo SE""EN-$((3*3))\r');
  await term.waitFor('SEEN-9');
  assert.equal((await sb.session('busy')).viewers, 1);
  term.write('\x03');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
  assert.equal(owner.exit, null, 'the owner stays attached');
});

for (const TERM of ['xterm-256color', 'screen-256color', 'linux']) {
  test(`TERM=${TERM}: q quits with 0 and leaves the terminal clean: cooked mode, cursor visible, normal screen`, async (t) => {
    const sb = await makeSandbox(t);
    await readyDaemon(sb);
    await sessions(sb, 'one');
    // A shell wraps the picker so the terminal can be inspected after it exited.
    const term = new PtyTerm('/bin/bash', ['--norc', '--noprofile', '-c', `"${NODE}" "${BIN}" choose; echo "EXIT=$?"; stty -a; echo END; exec sleep 60`], {
      env: { ...sb.env, TERM },
      cwd: sb.home,
      cols: 80,
      rows: 24,
      label: `choose (TERM=${TERM})`,
    });
    sb.terms.push(term);
    await waitPicker(term, (s) => rowOf(s, 'one'), 'the picker');
    term.write('q');
    await term.waitFor(/END/);
    assert.match(term.clean, /EXIT=0/);
    const stty = term.clean.slice(term.clean.indexOf('EXIT=0'));
    assert.match(stty, /(^|\s)icanon(\s|$)/m, 'canonical mode back');
    assert.match(stty, /(^|\s)echo(\s|$)/m, 'echo back');
    const s = await waitScreen(term, (x) => x.text().includes('END'), { message: 'the shell after the picker' });
    assert.equal(s.bufferType(), 'normal', 'the alternate screen was left');
    assert.equal(s.cursorHidden(), false, 'the cursor is visible');
    assert.ok(!s.text().includes('q quit'), `nothing of the picker stays on screen:\n${s.dump()}`);
  });
}

test('SIGTERM while the picker is open: exit 143, terminal restored', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  const term = new PtyTerm('/bin/bash', ['--norc', '--noprofile', '-c', `"${NODE}" "${BIN}" choose; echo "EXIT=$?"; stty -a; echo END; exec sleep 60`], {
    env: sb.env,
    cwd: sb.home,
    label: 'choose (SIGTERM)',
  });
  sb.terms.push(term);
  await waitPicker(term, (s) => s.text().includes('No sessions yet'), 'the picker');
  const pid = await waitUntil(() => sb.processes().find((p) => procCmdline(p)?.[0] === NODE && procCmdline(p).includes('choose')), { message: 'the picker pid' });
  process.kill(pid, 'SIGTERM');
  await term.waitFor(/END/);
  assert.match(term.clean, /EXIT=143/);
  const s = await waitScreen(term, (x) => x.text().includes('END'), { message: 'the shell after the picker' });
  assert.equal(s.bufferType(), 'normal');
  assert.equal(s.cursorHidden(), false);
});

test('resizing redraws the picker to the new size', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'wide-session-name');
  const { term } = await openPicker(sb, ['wide-session-name']);
  // Read only what is drawn after each resize: blessed redraws the whole screen.
  let since = term.bytes.length;
  term.resize(60, 15);
  const s = await waitScreen(term, (x) => isPicker(x) && rowOf(x, 'wide-session-name'), { since, cols: 60, rows: 15, message: 'the picker at 60x15' });
  assert.match(s.row(15), /Enter attach/);
  assert.doesNotMatch(s.row(15), /refresh/, 'the help line dropped what does not fit');
  since = term.bytes.length;
  term.resize(80, 24);
  await waitScreen(term, (x) => isPicker(x) && / r refresh  q quit$/.test(x.row(24)), { since, cols: 80, rows: 24, message: 'the picker back at 80x24' });
  term.write('q');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
});

test('NO_COLOR: the picker uses no colours (inverse and bold only); without it, it does', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  await sessions(sb, 'c');
  /** Does `output` set a colour (SGR 30-38, 40-48, 90-97, 100-107; 39/49 only reset to the default)? */
  const coloured = (output) =>
    [...output.matchAll(/\x1b\[([0-9;]*)m/g)].some((m) => m[1].split(';').some((p) => /^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$/.test(p)));
  const plain = (await openPicker(sb, ['c'], { env: { NO_COLOR: '1' } })).term;
  plain.write('q');
  await plain.waitExit();
  assert.ok(!coloured(plain.output), 'no colour with NO_COLOR');
  assert.match(plain.output, /\x1b\[7m/, 'the highlight is inverse video');
  const normal = (await openPicker(sb, ['c'])).term;
  normal.write('q');
  await normal.waitExit();
  assert.ok(coloured(normal.output), 'colours without NO_COLOR');
});

test('plain `tshpool` at a terminal opens the picker; without a terminal it prints the help, and `choose` refuses with exit 1', async (t) => {
  const sb = await makeSandbox(t);
  await readyDaemon(sb);
  const term = sb.spawnTerm([]);
  await waitPicker(term, (s) => s.text().includes('No sessions yet'), 'the picker from plain tshpool');
  term.write('q');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });

  const help = await sb.run([]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: tshpool/);
  assert.match(help.stdout, /choose/);

  const r = await sb.run(['choose']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /'tshpool choose' needs a terminal/);
  assert.equal(r.stdout, '');
});
