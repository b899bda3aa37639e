// End-to-end: session lifecycle commands — busy / -f / -b, exit status, kill,
// detach, list, --ttl, and how the daemon notices clients and shells going away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { makeSandbox, isAlive, shellRun, waitUntil, DETACH } from '../support/sandbox.mjs';


/** The lines tshpool itself printed (`tshpool: ...`; prompts may say `tshpool:NAME`), ANSI removed. */
const notices = (term) => term.clean.split(/\r*\n/).filter((l) => /^tshpool: /.test(l.trimStart()));

test('attaching to an attached session is busy (exit 3, names the session and -f); the first client stays', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('busy1');
  const r = await sb.run(['attach', 'busy1']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /busy1/);
  assert.match(r.stderr, /-f/);
  assert.equal(await shellRun(a, 'echo still'), 'still\n');
  assert.equal((await sb.session('busy1')).client_pid, a.pid);
});

test('attach -f displaces the attached client (exit 0, one-line notice) and takes over the same shell', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('f');
  await shellRun(a, 'Y=kept');
  const pid = (await sb.session('f')).pid;
  const b = await sb.attachShell('f', { args: ['-f'] });
  assert.deepEqual(await a.waitExit(), { exitCode: 0, signal: 0 });
  const n = notices(a);
  assert.equal(n.length, 1, `one notice line, got ${JSON.stringify(n)}`);
  assert.match(n[0], /^tshpool: .*'f'.*-f/);
  assert.equal(await shellRun(b, 'echo "Y=$Y"'), 'Y=kept\n');
  const s = await sb.session('f');
  assert.equal(s.pid, pid);
  assert.equal(s.client_pid, b.pid);
});

test('attach -b creates the session and returns 0 at once; list shows it disconnected; -b on an attached session leaves it alone', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['attach', '-b', 'bg']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const s = await sb.session('bg');
  assert.equal(s?.status, 'disconnected');
  assert.equal(s.client_pid, null);
  assert.equal(s.last_connected_at_unix_ms, null);
  assert.ok(isAlive(s.pid), 'the shell runs');

  const a = await sb.attachShell('att');
  const r2 = await sb.run(['attach', '-b', 'att']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(a.exit, null);
  assert.equal((await sb.session('att')).client_pid, a.pid);
  // -b on an existing session confirms it: the same shell.
  const r3 = await sb.run(['attach', '-b', 'bg']);
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal((await sb.session('bg')).pid, s.pid);
});

test("the client exits with the shell's status: exit 7 → 7, killed by SIGKILL → 137; the session is removed", async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('e7');
  a.write('exit 7\r');
  assert.deepEqual(await a.waitExit(), { exitCode: 7, signal: 0 });
  const b = await sb.attachShell('k9');
  b.write('kill -KILL $$\r');
  assert.deepEqual(await b.waitExit(), { exitCode: 137, signal: 0 });
  const c = await sb.attachShell('c3', { args: ['-c', 'bash --norc --noprofile'] });
  c.write('(exit 3); exit\r');
  assert.deepEqual(await c.waitExit(), { exitCode: 3, signal: 0 }, "a shell's plain `exit` keeps the last status");
  await sb.waitForList((l) => l.length === 0, { message: 'the ended sessions to be removed' });
});

test('a command that exits at once still gives the client its exit status', async (t) => {
  // The exit can reach the client in the same read as the attach reply. That is a
  // race: try often, with several clients at once so that they read late.
  const sb = await makeSandbox(t);
  assert.equal((await sb.run(['list'])).code, 0);
  const wrong = [];
  for (let round = 0; round < 4; round++) {
    const terms = Array.from({ length: 8 }, (_, i) => sb.spawnTerm(['attach', '-c', 'sh -c "exit 5"', `quick${round}-${i}`]));
    for (const term of terms) {
      const exit = await term.waitExit();
      if (exit.exitCode !== 5 || exit.signal !== 0) wrong.push(`${term.label}: ${JSON.stringify(exit)} ${JSON.stringify(term.clean.trim())}`);
    }
  }
  assert.deepEqual(wrong, [], `${wrong.length} of 32 clients did not get the exit status 5`);
  assert.deepEqual(await sb.list(), []);
});

test('kill NAME ends the session and its attached client exits; kill of an unknown name fails', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('kk');
  const pid = (await sb.session('kk')).pid;
  const r = await sb.run(['kill', 'kk']);
  assert.equal(r.code, 0, r.stderr);
  const exit = await a.waitExit();
  assert.notEqual(exit.exitCode, 0, 'the session ended under the client');
  assert.equal(await sb.session('kk'), undefined);
  await waitUntil(() => !isAlive(pid), { message: 'the shell to be gone' });

  const r2 = await sb.run(['kill', 'nope']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /not found: nope/);

  const r3 = await sb.run(['kill']);
  assert.notEqual(r3.code, 0, 'kill without names outside a session is an error');
  assert.match(r3.stderr, /session/);
});

test('kill SIGKILLs a session that ignores SIGHUP (after the grace period)', async (t) => {
  const sb = await makeSandbox(t);
  const r0 = await sb.run(['attach', '-b', '-c', `sh -c 'trap "" HUP; echo x > ${sb.path('h', 'up')}; while :; do sleep 1; done'`, 'stubborn']);
  assert.equal(r0.code, 0, r0.stderr);
  await waitUntil(() => existsSync(sb.path('h', 'up')), { message: 'the session to start' });
  const { pid } = await sb.session('stubborn');
  const r = await sb.run(['kill', 'stubborn']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.ms >= 400, `kill waited for the grace period (took ${r.ms} ms)`);
  assert.equal(await sb.session('stubborn'), undefined);
  await waitUntil(() => !isAlive(pid), { message: 'the shell to be gone' });
});

test('detach NAME from another command detaches its client (exit 0, notice); the session stays', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('dd');
  const r = await sb.run(['detach', 'dd']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await a.waitExit(), { exitCode: 0, signal: 0 });
  assert.match(a.clean, /tshpool: detached from session 'dd'/);
  assert.equal((await sb.session('dd'))?.status, 'disconnected');
});

test('detach without names inside a session detaches that session ($TSHPOOL_SESSION_NAME)', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('me');
  // The session's shell does not inherit XDG_RUNTIME_DIR: point the command at this sandbox's daemon.
  a.write(`XDG_RUNTIME_DIR=${sb.runtimeDir} ${process.execPath} ${sb.bin} detach\r`);
  assert.deepEqual(await a.waitExit(), { exitCode: 0, signal: 0 });
  assert.equal((await sb.session('me'))?.status, 'disconnected');
});

test('typing `tshpool detach` in a session reaches the daemon that runs it (XDG_RUNTIME_DIR set for the daemon)', async (t) => {
  // Like a login where pam sets XDG_RUNTIME_DIR: the daemon (and its socket) live
  // there, while the session's shell gets a fresh environment. TMPDIR keeps a wrong
  // guess inside the sandbox.
  const sb = await makeSandbox(t);
  sb.writeConfig(`env = { TMPDIR = "${sb.path('tmp')}" }\n`);
  const a = await sb.attachShell('inside');
  a.write(`${process.execPath} ${sb.bin} detach || echo FAILED$((1+1))\r`);
  await waitUntil(() => a.exit || a.clean.includes('FAILED2'), { timeout: 15_000, message: 'the client to exit or the command to fail' });
  assert.ok(a.exit && !a.clean.includes('FAILED2'), `the in-session command did not reach the daemon: ${JSON.stringify(a.clean.slice(-400))}`);
  assert.equal(a.exit.exitCode, 0);
});

test('detach of unknown / not attached sessions fails naming them; detach without names outside a session fails', async (t) => {
  const sb = await makeSandbox(t);
  assert.equal((await sb.run(['attach', '-b', 'b'])).code, 0);
  const r = await sb.run(['detach', 'a', 'b']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not found: a\b/);
  assert.match(r.stderr, /not attached: b\b/);
  const r2 = await sb.run(['detach']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /session/);
});

test('list prints a table NAME STATUS STARTED PID CLIENT PID (further columns may follow)', async (t) => {
  const sb = await makeSandbox(t);
  assert.equal((await sb.run(['attach', '-b', 'bb'])).code, 0);
  const a = await sb.attachShell('aa');
  const sessions = await sb.list();
  const r = await sb.run(['list']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines[0], /^NAME\s+STATUS\s+STARTED\s+PID\s+CLIENT PID(\s|$)/);
  const pidOf = (n) => sessions.find((s) => s.name === n).pid;
  assert.match(lines[1], new RegExp(`^aa\\s+attached\\s+\\d+s ago\\s+${pidOf('aa')}\\s+${a.pid}(\\s|$)`));
  assert.match(lines[2], new RegExp(`^bb\\s+disconnected\\s+\\d+s ago\\s+${pidOf('bb')}\\s+-(\\s|$)`));
  // Columns line up under the header.
  const col = lines[0].indexOf('STATUS');
  assert.ok(lines.every((l) => /\S/.test(l[col]) && /\s/.test(l[col - 1])), r.stdout);
});

test('list --json has exactly the documented fields, sorted by name', async (t) => {
  const sb = await makeSandbox(t);
  const t0 = Date.now();
  for (const n of ['cc', 'aa']) assert.equal((await sb.run(['attach', '-b', n])).code, 0);
  assert.equal((await sb.run(['attach', '-b', '-c', 'sleep 30', 'dd'])).code, 0);
  const b = await sb.attachShell('bb');
  b.write(DETACH);
  await b.waitExit();
  const a = await sb.attachShell('cc');
  const r = await sb.run(['list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(parsed), ['sessions']);
  const { sessions } = parsed;
  assert.deepEqual(sessions.map((s) => s.name), ['aa', 'bb', 'cc', 'dd']);
  const fields = ['name', 'status', 'started_at_unix_ms', 'last_connected_at_unix_ms', 'last_disconnected_at_unix_ms', 'pid', 'client_pid', 'cmd'];
  // Fields added later by other features, documented in the README.
  const laterFields = ['viewers'];
  for (const s of sessions) {
    const keys = Object.keys(s);
    assert.deepEqual(keys.filter((k) => fields.includes(k)).sort(), [...fields].sort(), `fields of ${s.name}`);
    assert.deepEqual(keys.filter((k) => !fields.includes(k) && !laterFields.includes(k)), [], `undocumented fields in ${s.name}`);
    assert.ok(Number.isInteger(s.started_at_unix_ms) && s.started_at_unix_ms >= t0 - 1000 && s.started_at_unix_ms <= Date.now());
    assert.ok(Number.isInteger(s.pid) && isAlive(s.pid));
  }
  const [aa, bb, cc, dd] = sessions;
  assert.deepEqual([aa.status, aa.client_pid, aa.last_connected_at_unix_ms, aa.last_disconnected_at_unix_ms], ['disconnected', null, null, null]);
  assert.equal(bb.status, 'disconnected');
  assert.ok(bb.last_connected_at_unix_ms >= bb.started_at_unix_ms);
  assert.ok(bb.last_disconnected_at_unix_ms >= bb.last_connected_at_unix_ms);
  assert.equal(cc.status, 'attached');
  assert.equal(cc.client_pid, a.pid);
  assert.ok(cc.last_connected_at_unix_ms >= cc.started_at_unix_ms);
  assert.match(aa.cmd, /bash/);
  assert.equal(dd.cmd, 'sleep 30');
});

test('--ttl kills the session when the time is up, attached or not', async (t) => {
  const sb = await makeSandbox(t);
  const TTL_MS = 2000;
  assert.equal((await sb.run(['attach', '-b', '--ttl', '2s', 'tb'])).code, 0);
  const a = sb.spawnTerm(['attach', '--ttl', '2s', 'ta']);
  const started = await sb.waitForList((l) => l.length === 2, { message: 'both sessions to exist' });
  const startedAt = Object.fromEntries(started.map((s) => [s.name, s.started_at_unix_ms]));
  // Watch tb until it is gone, noting when.
  let tbGoneAt = null;
  await sb.waitForList(
    (l) => {
      if (!tbGoneAt && !l.some((s) => s.name === 'tb')) tbGoneAt = Date.now();
      return l.length === 0;
    },
    { timeout: 10_000, message: 'both TTL sessions to end' },
  );
  await a.waitExit(8000);
  const aExitedAt = Date.now();
  assert.ok(tbGoneAt - startedAt.tb >= TTL_MS - 100, `tb ended ${tbGoneAt - startedAt.tb} ms after it started`);
  assert.ok(aExitedAt - startedAt.ta >= TTL_MS - 100, `ta ended ${aExitedAt - startedAt.ta} ms after it started`);
});

test('an invalid --ttl is a usage error (exit 2) and creates nothing', async (t) => {
  const sb = await makeSandbox(t);
  for (const ttl of ['5x', '10', '', '1m1h']) {
    const r = await sb.run(['attach', '-b', '--ttl', ttl, 'x']);
    assert.equal(r.code, 2, `--ttl ${JSON.stringify(ttl)}: ${r.stderr}`);
    assert.match(r.stderr, /ttl/);
  }
  assert.deepEqual(await sb.list(), []);
});

test('a killed client is noticed within a second: the session shows disconnected', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('dead');
  process.kill(a.pid, 'SIGKILL');
  const t0 = Date.now();
  await sb.waitForList((l) => l[0]?.status === 'disconnected', { timeout: 5000 });
  assert.ok(Date.now() - t0 < 3000, `noticed after ${Date.now() - t0} ms`);
  const b = await sb.attachShell('dead');
  assert.equal(await shellRun(b, 'echo ok'), 'ok\n');
});

test('a session whose shell exits while nobody is attached is removed at once', async (t) => {
  const sb = await makeSandbox(t);
  assert.equal((await sb.run(['attach', '-b', '-c', 'sleep 0.3', 'short'])).code, 0);
  assert.equal((await sb.run(['attach', '-b', '-c', 'sleep 30', 'long'])).code, 0);
  await sb.waitForList((l) => l.length === 1 && l[0].name === 'long', { timeout: 5000 });
});

test('list answers the same on its quick path (no global option) and through the full command line', async (t) => {
  const sb = await makeSandbox(t);
  // No daemon yet: the quick path steps aside and the full one reports (or auto-starts).
  const none = await sb.run(['--no-daemonize', 'list']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no daemon is running/);
  for (const n of ['bb', 'aa']) await sb.runOk(['attach', '-b', n]);
  for (const args of [['list'], ['ls'], ['list', '--json'], ['ls', '--names'], ['list', '--names', '--json']]) {
    const quick = await sb.runOk(args);
    const full = await sb.runOk(['--socket', sb.socketPath, ...args]);
    // The STARTED column may tick over between the two.
    const same = (out) => out.replace(/\d+[smhd] ago/g, 'AGE');
    assert.equal(same(quick.stdout), same(full.stdout), args.join(' '));
    assert.equal(quick.stderr, '');
  }
  // Anything else the quick path does not know goes to the full command line.
  assert.match((await sb.runOk(['list', '--help'])).stdout, /^Usage: tshpool list/m);
  const bad = await sb.run(['list', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
});
