// End-to-end: the daemon's life — auto-start, version, socket and log files, a
// stale socket after a crash, racing cold starts, the foreground daemon and its
// shutdown, --no-daemonize, socket path limits, set-log-level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { makeSandbox, RawClient, VERSION, isAlive, procCmdline, shellRun, waitUntil } from '../support/sandbox.mjs';

test('version prints the client version, and the daemon version and pid once one runs', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `tshpool ${VERSION} (client)\ndaemon: not running\n`);
  assert.equal(existsSync(sb.socketPath), false, 'version does not start a daemon');

  assert.equal((await sb.run(['attach', '-b', 'v'])).code, 0);
  const r2 = await sb.run(['version']);
  assert.equal(r2.code, 0, r2.stderr);
  const m = new RegExp(`^tshpool ${VERSION} \\(client\\)\\ntshpool ${VERSION} \\(daemon, pid (\\d+)\\)\\n$`).exec(r2.stdout);
  assert.ok(m, r2.stdout);
  const pid = Number(m[1]);
  assert.ok(isAlive(pid));
  assert.equal(procCmdline(pid).at(-1), 'daemon');
  assert.deepEqual(sb.daemonProcesses(), [pid]);
});

test('the socket lives in $XDG_RUNTIME_DIR/tshpool (dir 0700, socket 0600) with the log beside it', async (t) => {
  const sb = await makeSandbox(t);
  assert.equal((await sb.run(['attach', '-b', 'p'])).code, 0);
  const dir = statSync(`${sb.runtimeDir}/tshpool`);
  assert.equal(dir.mode & 0o777, 0o700);
  const sock = statSync(sb.socketPath);
  assert.ok(sock.isSocket());
  assert.equal(sock.mode & 0o777, 0o600);
  await waitUntil(() => existsSync(sb.logPath) && readFileSync(sb.logPath, 'utf8').includes('daemon started'), { message: 'the daemon log' });
});

test('a daemon killed with SIGKILL: the attached client exits non-zero with a message; the next command says so and starts a new daemon', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('old');
  const pid = await sb.daemonPid();
  process.kill(pid, 'SIGKILL');
  const exit = await a.waitExit();
  assert.notEqual(exit.exitCode, 0);
  assert.match(a.clean, /tshpool: .*(daemon|connection)/);
  await waitUntil(() => !isAlive(pid), { message: 'the daemon to die' });
  assert.ok(existsSync(sb.socketPath), 'the stale socket file is still there');

  const r = await sb.run(['attach', '-b', 'new']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stale/);
  const pid2 = await sb.daemonPid();
  assert.ok(pid2 && pid2 !== pid && isAlive(pid2));
  assert.deepEqual((await sb.list()).map((s) => s.name), ['new']);
  const b = await sb.attachShell('new');
  assert.equal(await shellRun(b, 'echo ok'), 'ok\n');
});

test('concurrent cold starts end with exactly one daemon that has every session', async (t) => {
  const sb = await makeSandbox(t);
  const names = ['a', 'b', 'c'];
  const results = await Promise.all(names.map((n) => sb.run(['attach', '-b', n])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await sb.list()).map((s) => s.name), names);
  // Losers of the start-up race exit on their own.
  const daemons = await waitUntil(
    () => {
      const d = sb.daemonProcesses();
      return d.length === 1 ? d : null;
    },
    { message: 'a single daemon process' },
  );
  assert.equal(await sb.daemonPid(), daemons[0]);
});

test('a client that connects the moment the socket appears is answered', async (t) => {
  // The window between listen() and the daemon being ready to serve must not swallow clients.
  for (let i = 0; i < 3; i++) {
    const sb = await makeSandbox(t);
    sb.spawnChild(['daemon'], { stdio: 'ignore' });
    const c = await waitUntil(() => RawClient.connect(sb.socketPath).catch(() => null), { interval: 1, message: 'the socket to accept' });
    c.hello();
    const [reply] = await c.waitMessages((m) => m.length >= 1, 5000).catch((err) => assert.fail(`attempt ${i}: no reply to hello: ${err.message}`));
    assert.equal(reply.type, 'hello');
    c.destroy();
    await sb.cleanup();
  }
});

test('tshpool daemon in the foreground: exits 0 on SIGTERM, removes its socket, hangs up the shells', async (t) => {
  const sb = await makeSandbox(t);
  const daemon = sb.spawnChild(['daemon'], { stdio: 'ignore' });
  await waitUntil(async () => (await sb.daemonPid()) === daemon.pid, { message: 'the foreground daemon to answer' });
  const hup = sb.path('h', 'hup');
  const cmd = `sh -c 'trap "echo hup > ${hup}; exit 0" HUP; echo up > ${hup}.up; while :; do sleep 0.1; done'`;
  assert.equal((await sb.run(['attach', '-b', '-c', cmd, 'bg'])).code, 0);
  const a = await sb.attachShell('fg');
  const { pid: shellPid } = await sb.session('fg');
  await waitUntil(() => existsSync(`${hup}.up`), { message: 'the trap to be set' });

  const exited = once(daemon, 'exit');
  daemon.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.deepEqual([code, signal], [0, null]);
  assert.equal(existsSync(sb.socketPath), false, 'the socket is removed');
  assert.equal(readFileSync(hup, 'utf8'), 'hup\n', 'the session got SIGHUP');
  await waitUntil(() => !isAlive(shellPid), { message: 'the shell to be gone' });
  const exit = await a.waitExit();
  assert.notEqual(exit.exitCode, 0);
});

test('--no-daemonize / nodaemonize = true: no daemon is a clear error, and none is started', async (t) => {
  const sb = await makeSandbox(t);
  for (const args of [['--no-daemonize', 'list'], ['--no-daemonize', 'attach', '-b', 'x']]) {
    const r = await sb.run(args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /no daemon is running/);
  }
  sb.writeConfig('nodaemonize = true\n');
  const r = await sb.run(['attach', '-b', 'x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no daemon is running/);
  assert.equal(existsSync(sb.socketPath), false);
  assert.deepEqual(sb.daemonProcesses(), []);

  // With a daemon running, --no-daemonize just uses it.
  sb.writeConfig('');
  const started = await sb.run(['attach', '-b', 'y']);
  assert.equal(started.code, 0, started.stderr);
  const r2 = await sb.run(['--no-daemonize', 'list']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^y\s/m);
});

test('a socket path longer than 107 bytes is a clear error; 107 bytes works', async (t) => {
  const sb = await makeSandbox(t);
  const long = `${sb.dir}/${'x'.repeat(108 - sb.dir.length)}.sock`;
  assert.ok(Buffer.byteLength(long) > 107);
  for (const args of [['list'], ['attach', '-b', 'x'], ['daemon']]) {
    const r = await sb.run(['--socket', long, ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, /107/, r.stderr);
    assert.ok(r.stderr.includes(long), r.stderr);
  }
  const exact = `${sb.dir}/s/${'y'.repeat(107 - sb.dir.length - 3)}`;
  assert.equal(Buffer.byteLength(exact), 107);
  const r = await sb.run(['--socket', exact, 'attach', '-b', 'z']);
  assert.equal(r.code, 0, r.stderr);
  const r2 = await sb.run(['--socket', exact, 'list']);
  assert.match(r2.stdout, /^z\s/m);
});

test('set-log-level changes the daemon log level; an unknown level is an error', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['set-log-level', 'debug']);
  assert.equal(r.code, 0, r.stderr);
  await waitUntil(() => /log level changed.*debug/.test(readFileSync(sb.logPath, 'utf8')), { message: 'the log to show the change' });
  const r2 = await sb.run(['set-log-level', 'loud']);
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /loud/);
});
