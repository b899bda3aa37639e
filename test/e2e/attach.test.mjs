// End-to-end: attaching through a real terminal — typing, the detach keybinding,
// reattach, terminal size, and attaching without a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSandbox, shellReady, shellRun, waitUntil, DETACH } from '../support/sandbox.mjs';


/** Pause so that two writes reach the client as two separate reads (not a wait for a condition). */
const separateReads = () => sleep(150);

/**
 * Puts the shell's terminal in raw mode and starts `head -c n | od`, so the next
 * n bytes typed reach it unchanged (no echo, no IXON/ISIG processing); returns the
 * mark to look for od's hex dump after.
 */
async function startByteDump(term, n) {
  const since = term.mark();
  term.write(`stty raw -echo; echo D$((6+1))D; head -c ${n} | od -An -tx1; stty sane; echo F$((6+2))F\r`);
  await term.waitFor('D7D', { since });
  return since;
}

async function byteDump(term, since) {
  const m = await term.waitFor(/D7D\r*\n((?: [0-9a-f]{2})+)\s*?\r?\n[\s\S]*F8F/, { since, clean: true });
  return m[1].trim();
}

test('attach creates a session; typed input reaches the shell and its output comes back', async (t) => {
  const sb = await makeSandbox(t);
  const term = sb.spawnTerm(['attach', 'main']);
  term.write('echo A$((40+2))B\r');
  await term.waitFor('A42B');
  const [s] = await sb.list();
  assert.equal(s.name, 'main');
  assert.equal(s.status, 'attached');
  assert.equal(s.client_pid, term.pid);
  assert.equal(term.exit, null, 'the client keeps running');
});

test('the detach keybinding Ctrl-Space Ctrl-q detaches (exit 0, notice), also when split across reads', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('k1');
  a.write(DETACH);
  assert.deepEqual(await a.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(a.clean, /tshpool: detached from session 'k1'/);

  const b = await sb.attachShell('k2');
  b.write('\x00');
  await separateReads();
  assert.equal(b.exit, null, 'half a binding does not detach');
  b.write('\x11');
  assert.deepEqual(await b.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(b.clean, /detached from session 'k2'/);

  const list = await sb.list();
  assert.deepEqual(
    list.map((s) => [s.name, s.status]),
    [
      ['k1', 'disconnected'],
      ['k2', 'disconnected'],
    ],
  );
});

test('a partial keybinding match followed by another byte passes both bytes to the shell', async (t) => {
  const sb = await makeSandbox(t);
  const term = await sb.attachShell('p');
  // Same read: NUL then 'x'.
  let since = await startByteDump(term, 2);
  term.write('\x00x');
  assert.equal(await byteDump(term, since), '00 78');
  // Split across reads: NUL (held as a possible binding), then 'x'.
  since = await startByteDump(term, 2);
  term.write('\x00');
  await separateReads();
  term.write('x');
  assert.equal(await byteDump(term, since), '00 78');
  // NUL NUL x: the first NUL is released when the second cannot continue it.
  since = await startByteDump(term, 3);
  term.write('\x00\x00x');
  assert.equal(await byteDump(term, since), '00 00 78');
  assert.equal(term.exit, null);
});

test('a configured [[keybinding]] replaces the default detach binding', async (t) => {
  const sb = await makeSandbox(t, { config: '[[keybinding]]\nbinding = "Ctrl-a d"\naction = "detach"\n' });
  const term = await sb.attachShell('kb');
  const since = await startByteDump(term, 2);
  term.write(DETACH);
  assert.equal(await byteDump(term, since), '00 11', 'the default binding is now plain input');
  assert.equal(term.exit, null);
  await shellReady(term);
  term.write('\x01d');
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(term.clean, /detached from session 'kb'/);
  assert.equal((await sb.session('kb'))?.status, 'disconnected');
});

test('the local terminal leaves raw mode on every way out of attach', async (t) => {
  const sb = await makeSandbox(t);
  /** Runs `attach ARGS` in a shell that prints the exit status and the terminal modes afterwards. */
  const attachThenStty = (args) =>
    sb.shellTerm(`$TSHPOOL attach ${args}; echo "rc=$?"; stty -a | tr '\\n' ' '; echo; echo "EN""D"; exec sleep 60`);
  const modesAfter = async (term) => {
    const m = await term.waitFor(/rc=(\d+)\r*\n([^\n]*)\r*\nEND/, { clean: true });
    const modes = m[2].split(/[\s;]+/);
    assert.ok(modes.includes('icanon') && modes.includes('echo') && modes.includes('icrnl') && modes.includes('isig'), `cooked again: ${m[2]}`);
    return Number(m[1]);
  };
  const ready = async (term) => {
    await term.waitRawMode();
    await shellReady(term);
  };

  const detach = attachThenStty('w1');
  await ready(detach);
  detach.write(DETACH);
  assert.equal(await modesAfter(detach), 0, 'detach keybinding');

  const exit = attachThenStty('w1');
  await ready(exit);
  exit.write('exit 4\r');
  assert.equal(await modesAfter(exit), 4, 'shell exit');

  const killed = attachThenStty('w2');
  await ready(killed);
  assert.equal((await sb.run(['kill', 'w2'])).code, 0);
  assert.notEqual(await modesAfter(killed), 0, 'session killed');

  const displaced = attachThenStty('w3');
  await ready(displaced);
  const taker = await sb.attachShell('w3', { args: ['-f'] });
  assert.equal(await modesAfter(displaced), 0, 'displaced by -f');
  taker.write(DETACH);
  await taker.waitExit();

  const orphan = attachThenStty('w4');
  await ready(orphan);
  process.kill(await sb.daemonPid(), 'SIGKILL');
  assert.notEqual(await modesAfter(orphan), 0, 'daemon gone');
});

test('reattaching keeps the shell state (variables, cwd) and the same shell', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('st');
  await shellRun(a, 'X=42; cd /tmp');
  const pid = (await sb.session('st')).pid;
  a.write(DETACH);
  assert.equal((await a.waitExit()).exitCode, 0);

  const b = await sb.attachShell('st');
  assert.equal(await shellRun(b, 'echo "$X $PWD"'), '42 /tmp\n');
  assert.equal((await sb.session('st')).pid, pid);
});

test('the pty takes the client size on attach and follows resizes (SIGWINCH)', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('rs', { cols: 120, rows: 30 });
  assert.equal(await shellRun(a, 'stty size'), '30 120\n');
  a.resize(100, 40);
  await waitUntil(async () => (await shellRun(a, 'stty size')) === '40 100\n', { message: 'stty size to show 40 100' });
  a.write(DETACH);
  await a.waitExit();
  // A reattach from a terminal of another size resizes the pty.
  const b = await sb.attachShell('rs', { cols: 90, rows: 33 });
  assert.equal(await shellRun(b, 'stty size'), '33 90\n');
});

test('attach without a TTY: 80x24, input is typed, stdin EOF detaches (exit 0), the session lives on', async (t) => {
  const sb = await makeSandbox(t);
  const out = sb.path('h', 'out');
  const size = sb.path('h', 'size');
  const r = await sb.run(['attach', 'nt'], { input: `stty size > ${size}; echo hi > ${out}\n` });
  assert.equal(r.code, 0, r.stderr);
  await waitUntil(() => {
    try {
      return readFileSync(out, 'utf8') === 'hi\n';
    } catch {
      return false;
    }
  }, { message: 'the piped command to write its file' });
  assert.equal(readFileSync(size, 'utf8'), '24 80\n');
  const s = await sb.session('nt');
  assert.equal(s?.status, 'disconnected', 'the session still exists, detached');
});
