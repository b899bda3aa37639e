// End-to-end: `tshpool view NAME` — read-only viewers: the restored screen and live
// output, input ignored, counted in `list --json` without making the session busy,
// and how a viewer leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSandbox, shellRun, DETACH } from '../support/sandbox.mjs';
import { waitScreen } from '../support/screen.mjs';


/** Starts `tshpool view name` in a terminal and waits until its terminal is in raw mode. */
async function startViewer(sb, name) {
  const v = sb.spawnTerm(['view', name]);
  await v.waitRawMode();
  return v;
}

const hasLine = (line) => (s) => s.lines().includes(line);

test('a viewer sees the restored screen and live output; its typing never reaches the shell; list counts viewers; Ctrl-C and the detach keys leave', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('v');
  a.write('echo BEF""ORE\r');
  await a.waitFor(/BEFORE\r*\n/);

  const v1 = await startViewer(sb, 'v');
  await waitScreen(v1, hasLine('BEFORE'), { message: 'the restored screen in the viewer' });
  let s = await sb.session('v');
  assert.equal(s.viewers, 1);
  assert.equal(s.status, 'attached', 'still attached by the real client');
  assert.equal(s.client_pid, a.pid);

  // Live output from the attached client's typing.
  a.write('echo LI""VE\r');
  await waitScreen(v1, hasLine('LIVE'), { message: 'live output in the viewer' });

  // The viewer types a command (no Ctrl-C in it): it must not reach the shell.
  v1.write('echo VIEW""ERTYPED; touch VIEWER-WAS-HERE\r');

  const v2 = await startViewer(sb, 'v');
  await waitScreen(v2, hasLine('LIVE'), { message: 'the second viewer sees the screen' });
  s = await sb.session('v');
  assert.equal(s.viewers, 2);
  assert.equal(s.status, 'attached');
  assert.equal(s.client_pid, a.pid);

  v1.write('\x03');
  assert.deepEqual(await v1.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(v1.clean, /stopped viewing session 'v'/);
  // The viewer read its typed line before the Ctrl-C, and the daemon handled whatever it
  // sent before the detach request it answered: had the line been forwarded, the shell
  // would have it by now. Sync point: a command of the real client.
  assert.equal(await shellRun(a, 'ls VIEWER-WAS-HERE 2>/dev/null; echo rc=$?'), 'rc=2\n');
  assert.ok(!a.output.includes('VIEWERTYPED') && !a.output.includes('VIEW""ER'), `the shell never saw the viewer's input: ${JSON.stringify(a.output.slice(-300))}`);
  assert.ok(!v1.output.includes('VIEWERTYPED'));
  await sb.waitForList((l) => l[0]?.viewers === 1, { message: 'one viewer left' });

  v2.write(DETACH);
  assert.deepEqual(await v2.waitExit(), { exitCode: 0, signal: 0 });
  await sb.waitForList((l) => l[0]?.viewers === 0, { message: 'no viewer left' });

  // Nothing of the viewers' keys reached the shell, and the real client is untouched.
  assert.equal(a.exit, null);
  assert.equal(await shellRun(a, 'echo ok'), 'ok\n');
});

test('a viewer of a disconnected session does not make it busy: attach still works and the viewer sees it', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'd']);
  const v = await startViewer(sb, 'd');
  let s = await sb.session('d');
  assert.equal(s.viewers, 1);
  assert.equal(s.status, 'disconnected');
  assert.equal(s.client_pid, null);

  const a = await sb.attachShell('d');
  s = await sb.session('d');
  assert.equal(s.status, 'attached');
  assert.equal(s.client_pid, a.pid);
  assert.equal(s.viewers, 1);
  a.write('echo AT""TACHED\r');
  await waitScreen(v, hasLine('ATTACHED'), { message: "the attached client's output in the viewer" });

  // The viewer is not the attached client: detaching via the keybinding in the viewer leaves only the viewer.
  v.write(DETACH);
  assert.deepEqual(await v.waitExit(), { exitCode: 0, signal: 0 });
  await sleep(200); // bounded: prove the real client was not detached with it
  assert.equal(a.exit, null);
  assert.equal((await sb.session('d')).client_pid, a.pid);
});

test('viewing an unknown session exits 1 with a message', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['view', 'nosuch']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /nosuch/);
  assert.match(r.stderr, /no session|not found/);
  assert.equal(r.stdout, '');
  // In a terminal too: no raw mode left behind, same exit.
  const term = sb.spawnTerm(['view', 'nosuch']);
  assert.deepEqual(await term.waitExit(), { exitCode: 1, signal: 0 });
  assert.match(term.clean, /nosuch/);
});

test('a viewer is told when the session ends and exits 0', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'e']);
  const v = await startViewer(sb, 'e');
  await sb.runOk(['kill', 'e']);
  assert.deepEqual(await v.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(v.clean, /session 'e' ended/);
});

test('a viewer smaller than the session is told so on its bottom line (in both handoff settings); one that fits is not', async (t) => {
  for (const handoff of [true, false]) {
    const sb = await makeSandbox(t, { config: handoff ? '' : 'terminal_handoff = false\n' });
    const a = await sb.attachShell('big', { cols: 120, rows: 40 });
    a.write('echo HE""RE\r');
    await a.waitFor(/HERE\r*\n/);
    const small = sb.spawnTerm(['view', 'big'], { cols: 80, rows: 24 });
    const screen = await waitScreen(small, (s) => s.row(24).startsWith('[tshpool: this session is 120x40, this terminal 80x24: the view is cut'), {
      message: `the size notice on the bottom row (handoff ${handoff})`,
    });
    assert.ok(screen.lines().includes('HERE'), 'the screen is restored under the notice');
    const fits = sb.spawnTerm(['view', 'big'], { cols: 120, rows: 40 });
    await waitScreen(fits, (s) => s.lines().includes('HERE'), { message: 'the restored screen in a viewer that fits' });
    a.write('echo AF""TER\r');
    await waitScreen(fits, (s) => s.lines().includes('AFTER'), { message: 'live output after the restore' });
    assert.ok(!fits.clean.includes('[tshpool: this session is'), 'no notice when the terminal fits');
    small.kill('SIGKILL');
    fits.kill('SIGKILL');
  }
});
