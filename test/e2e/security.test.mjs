// End-to-end access control: only the daemon's own user may use it.
//
//   - The runtime directory must be private: a loosened, foreign or symlinked
//     directory is refused by every command (and by the daemon), with the fix.
//   - Files the daemon creates there stay private even under umask 000.
//   - Behind a loosened directory, the daemon still checks each peer's uid
//     (SO_PEERCRED) before reading anything: another user gets `forbidden` and
//     is closed, and nothing it sent is acted upon. Even root is "another user"
//     for someone else's daemon.
//
// The cross-user tests need root (to run processes as `nobody`, uid 65534) and
// are skipped otherwise; CI runs as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeSandbox, BIN, NODE, decodeFrames, isAlive, procCmdline, terminate, waitUntil, shellRun, skipWithout } from '../support/sandbox.mjs';
import { attachRequest, control, fdCount, helloFrame } from '../support/load.mjs';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const needsRoot = skipWithout(isRoot, 'needs root: runs processes as nobody (uid 65534) to test the peer uid check');

/** Runs node with `nodeArgs` as nobody; resolves to { code, stdout, stderr }. */
function runAsNobody(nodeArgs, { env = {}, timeout = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, nodeArgs, {
      uid: NOBODY,
      gid: NOBODY,
      cwd: '/',
      env: { PATH: `${dirname(NODE)}:/usr/bin:/bin`, HOME: '/nonexistent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nobody's process did not finish within ${timeout} ms: ${stderr}`));
    }, timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The peer for the cross-user tests: opens one connection per plan entry, writes
 * its bytes (base64; may be empty), and records everything received and when the
 * daemon closed it (giving up after holdMs). Prints a JSON array.
 */
const PEER_SCRIPT = `
const net = require('node:net');
const [path, planJson] = process.argv.slice(1);
const plan = JSON.parse(planJson);
Promise.all(plan.map((p) => new Promise((resolve) => {
  const t0 = Date.now();
  const out = { received: '', firstByteMs: null, closedAfterMs: null, error: null };
  const s = net.createConnection(path);
  const chunks = [];
  const timer = setTimeout(() => { s.destroy(); }, p.holdMs);
  s.on('connect', () => { if (p.bytes) s.write(Buffer.from(p.bytes, 'base64')); });
  s.on('data', (d) => { if (out.firstByteMs === null) out.firstByteMs = Date.now() - t0; chunks.push(d); });
  s.on('error', (e) => { out.error = e.code || e.message; });
  s.on('close', () => {
    clearTimeout(timer);
    if (out.closedAfterMs === null && Date.now() - t0 < p.holdMs) out.closedAfterMs = Date.now() - t0;
    out.received = Buffer.concat(chunks).toString('base64');
    resolve(out);
  });
}))).then((results) => process.stdout.write(JSON.stringify(results)));
`;

/** Loosens the sandbox so that nobody can reach the socket: every directory 0755, the socket 0666. */
function loosen(sb) {
  for (const d of [sb.dir, sb.runtimeDir, dirname(sb.socketPath)]) chmodSync(d, 0o755);
  chmodSync(sb.socketPath, 0o666);
}

/** Makes the sandbox private again (tshpool's own commands refuse a loosened directory). */
function tighten(sb) {
  for (const d of [sb.dir, sb.runtimeDir, dirname(sb.socketPath)]) chmodSync(d, 0o700);
  chmodSync(sb.socketPath, 0o600);
}

function refusalsInLog(sb) {
  return readFileSync(sb.logPath, 'utf8')
    .split('\n')
    .filter((l) => /refused a connection from another user/.test(l));
}

test('another user is refused before anything it sends is read: forbidden, closed, nothing done, logged', { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  const victim = await sb.attachShell('victim');
  const pid = await sb.daemonPid();
  loosen(sb);
  const pwned = sb.path('pwned');
  const b64 = (buf) => buf.toString('base64');
  const plan = [
    { what: 'nothing', bytes: '', holdMs: 3000 },
    { what: 'hello + list', bytes: b64(Buffer.concat([helloFrame(), control({ type: 'list' })])), holdMs: 3000 },
    { what: 'hello + attach', bytes: b64(Buffer.concat([helloFrame(), control(attachRequest({ name: 'pwn', cmd: ['touch', pwned] }))])), holdMs: 3000 },
    { what: 'hello + kill', bytes: b64(Buffer.concat([helloFrame(), control({ type: 'kill', names: ['victim'] })])), holdMs: 3000 },
    { what: 'hello + send', bytes: b64(Buffer.concat([helloFrame(), control({ type: 'send', name: 'victim', data: `touch ${pwned}\r` })])), holdMs: 3000 },
  ];
  const r = await runAsNobody(['-e', PEER_SCRIPT, sb.socketPath, JSON.stringify(plan)]);
  assert.equal(r.code, 0, r.stderr);
  tighten(sb);
  const results = JSON.parse(r.stdout);
  results.forEach((res, i) => {
    const what = plan[i].what;
    assert.equal(res.error === 'ECONNREFUSED' || res.error === 'EACCES', false, `${what}: nobody could not even connect (${res.error}): the test setup is wrong`);
    const frames = decodeFrames(Buffer.from(res.received, 'base64'));
    assert.equal(frames.length, 1, `${what}: exactly one reply, got ${JSON.stringify(frames)}`);
    assert.equal(frames[0].message.type, 'error', what);
    assert.match(frames[0].message.reason, /^forbidden: /, what);
    assert.ok(res.closedAfterMs !== null, `${what}: the daemon closed the connection`);
    // Refused at once, not after the 1 s first-request timeout: the uid is checked before reading.
    assert.ok(res.firstByteMs < 800, `${what}: refused after ${res.firstByteMs} ms`);
  });
  // Nothing it asked for happened.
  assert.equal(existsSync(pwned), false, 'no command ran for the other user');
  const sessions = await sb.list();
  assert.deepEqual(sessions.map((s) => s.name), ['victim']);
  assert.equal(await shellRun(victim, 'echo intact'), 'intact\n');
  assert.equal(existsSync(pwned), false);
  assert.ok(isAlive(pid));
  await waitUntil(() => refusalsInLog(sb).length >= plan.length, { message: 'the refusals in the daemon log' });
  assert.ok(refusalsInLog(sb).every((l) => /uid=65534/.test(l)), refusalsInLog(sb).join('\n'));
});

test("tshpool itself run by another user against the daemon's socket says forbidden (exit 1) and creates nothing", { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'mine']);
  loosen(sb);
  const home = sb.path('nobody-home');
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, NOBODY, NOBODY);
  for (const args of [['list'], ['attach', '-b', 'theirs'], ['kill', 'mine']]) {
    const r = await runAsNobody([BIN, '--socket', sb.socketPath, '--no-daemonize', ...args], { env: { HOME: home, TERM: 'xterm' } });
    assert.equal(r.code, 1, `${args.join(' ')}: exit ${r.code}; ${r.stderr}`);
    // Its client refuses a socket served by another user before sending anything (the daemon would say forbidden).
    assert.match(r.stderr, /the socket .* is served by uid 0, not by you \(uid 65534\): refusing to talk to it/, args.join(' '));
  }
  tighten(sb);
  assert.deepEqual((await sb.list()).map((s) => s.name), ['mine']);
});

test('connections refused for another user do not leak daemon file descriptors', { skip: needsRoot }, async (t) => {
  // serve() answers a foreign peer with socket.end() but never reads from it, so the
  // peer's close is never seen and the socket is never destroyed: every refused
  // connection keeps a daemon fd forever. Another user (e.g. when the socket is
  // reachable through systemd socket activation or a loosened directory) can exhaust
  // the daemon's fds and lock its owner out.
  const sb = await makeSandbox(t);
  await sb.runOk(['list']);
  const pid = await sb.daemonPid();
  loosen(sb);
  const fds0 = fdCount(pid);
  const plan = Array.from({ length: 30 }, () => ({ bytes: helloFrame().toString('base64'), holdMs: 2000 }));
  const r = await runAsNobody(['-e', PEER_SCRIPT, sb.socketPath, JSON.stringify(plan)]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).every((x) => x.closedAfterMs !== null), 'each refused connection was closed');
  // nobody's process has exited: every one of those connections is closed on its side.
  let fds = fdCount(pid);
  await waitUntil(() => (fds = fdCount(pid)) <= fds0 + 1, { timeout: 3000, message: 'the daemon fds to come back' }).catch(() => null);
  assert.ok(fds <= fds0 + 1, `daemon fds: ${fds0} before, ${fds} after 30 refused connections (all closed by the peer)`);
});

test("even root is refused by another user's daemon, and root's client refuses to talk to it", { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  chmodSync(sb.dir, 0o711);
  const rt = sb.path('nobody-rt');
  mkdirSync(rt, { mode: 0o700 });
  chownSync(rt, NOBODY, NOBODY);
  const socket = join(rt, 'tshpool', 'tshpool.socket');
  const daemon = spawn(NODE, [BIN, 'daemon'], {
    uid: NOBODY,
    gid: NOBODY,
    cwd: '/',
    env: { PATH: `${dirname(NODE)}:/usr/bin:/bin`, HOME: rt, XDG_RUNTIME_DIR: rt, XDG_CONFIG_HOME: join(rt, 'c'), SHELL: '/bin/sh' },
    stdio: 'ignore',
  });
  t.after(() => terminate(daemon.pid));
  await waitUntil(() => existsSync(socket), { message: "nobody's daemon to listen" });
  assert.equal(lstatSync(socket).uid, NOBODY);
  const r = await sb.run(['--socket', socket, '--no-daemonize', 'attach', '-b', 'root-was-here']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /is served by uid 65534, not by you \(uid 0\): refusing to talk to it/);
  // The daemon's own check, for a client that does not check (root bypasses the directory permissions).
  const raw = await sb.connectRaw(socket);
  raw.hello();
  raw.send(attachRequest({ name: 'root-was-here' }));
  const [refusal] = await raw.waitMessages((m) => m.length >= 1);
  assert.match(refusal.reason, /forbidden: this tshpool daemon belongs to uid 65534/);
  assert.ok(isAlive(daemon.pid), "nobody's daemon is still running");
  const logFile = join(rt, 'tshpool', 'tshpool.log');
  await waitUntil(() => existsSync(logFile) && /refused/.test(readFileSync(logFile, 'utf8')), { message: "the refusal in nobody's daemon log" });
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, /refused a connection from another user uid=0/);
  assert.doesNotMatch(log, /session created/);
});

test('a runtime directory others can use is refused by every command and by the daemon, with the fix', async (t) => {
  const sb = await makeSandbox(t);
  const term = await sb.attachShell('kept');
  const pid = await sb.daemonPid();
  const dir = dirname(sb.socketPath);
  for (const mode of [0o755, 0o770, 0o701, 0o702]) {
    chmodSync(dir, mode);
    for (const args of [['list'], ['attach', '-b', 'new'], ['kill', 'kept'], ['status']]) {
      const r = await sb.run(args);
      assert.equal(r.code, 1, `${args.join(' ')} with mode ${mode.toString(8)}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${dir.replace(/[/.]/g, '\\$&')} is accessible by other users \\(mode ${mode.toString(8)}\\).*chmod 700 `, 's'));
    }
  }
  // Nothing was done meanwhile, and no second daemon was started.
  assert.ok(isAlive(pid));
  assert.deepEqual(sb.daemonProcesses(), [pid]);
  chmodSync(dir, 0o700);
  assert.deepEqual((await sb.list()).map((s) => s.name), ['kept']);
  assert.equal(await shellRun(term, 'echo fine'), 'fine\n');

  // A fresh loosened directory: no daemon starts, neither by itself nor on request.
  const fresh = await makeSandbox(t);
  const freshDir = dirname(fresh.socketPath);
  mkdirSync(freshDir, { mode: 0o755 });
  chmodSync(freshDir, 0o755);
  const r1 = await fresh.run(['attach', '-b', 'x']);
  assert.equal(r1.code, 1, r1.stderr);
  assert.match(r1.stderr, /accessible by other users.*chmod 700/s);
  const r2 = await fresh.run(['daemon'], { timeout: 10_000 });
  assert.notEqual(r2.code, 0, 'the daemon refuses to start');
  assert.equal(existsSync(fresh.socketPath), false, 'no socket was created');
  assert.deepEqual(fresh.daemonProcesses(), []);
});

test('a runtime directory that is a symlink, or belongs to another user, is refused', async (t) => {
  const sb = await makeSandbox(t);
  const dir = dirname(sb.socketPath);
  // A symlink to a private directory of ours: still refused (it could be re-pointed).
  const real = sb.path('elsewhere');
  mkdirSync(real, { mode: 0o700 });
  symlinkSync(real, dir);
  const r1 = await sb.run(['list']);
  assert.equal(r1.code, 1, r1.stderr);
  assert.match(r1.stderr, /is not a directory \(a symlink or file is in the way\)/);
  assert.deepEqual(readdirSync(real), [], 'nothing was created through the symlink');
  if (!isRoot) return t.diagnostic('skipping the foreign-owner half: needs root (chown)');
  renameSync(dir, sb.path('old-link'));
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, NOBODY, NOBODY);
  const r2 = await sb.run(['attach', '-b', 'x']);
  assert.equal(r2.code, 1, r2.stderr);
  assert.match(r2.stderr, /belongs to uid 65534, not to you \(uid 0\)/);
  assert.deepEqual(readdirSync(dir), [], 'nothing was created in the foreign directory');
});

test('under umask 000 everything the daemon creates in its runtime directory is still private', async (t) => {
  const sb = await makeSandbox(t);
  const agent = sb.path('agent.sock');
  const run = (args) =>
    new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$@"', 'sh', NODE, BIN, ...args], { env: { ...sb.env, SSH_AUTH_SOCK: agent }, cwd: sb.home, stdio: 'ignore' });
      sb.children.push(child);
      child.on('close', resolve);
    });
  assert.equal(await run(['attach', '-b', 'one']), 0);
  // A foreground attach makes the daemon write forward.env and the agent symlink.
  const term = sb.spawnTerm(['attach', 'two'], { env: { SSH_AUTH_SOCK: agent } });
  await term.waitFor(/\$ $/m, { timeout: 15_000 });
  await waitUntil(() => existsSync(join(dirname(sb.socketPath), 'sessions', 'two', 'forward.env')), { message: 'forward.env' });
  const loose = [];
  const walk = (p) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) loose.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dirname(sb.socketPath));
  assert.deepEqual(loose, [], 'files and directories open to other users');
  assert.equal(lstatSync(sb.socketPath).mode & 0o777, 0o600);
  assert.equal(lstatSync(sb.logPath).mode & 0o777, 0o600);
});

// ---- issue 15, item 1: a --socket or --log-file in a directory others can write ----

/** Runs a short node script as nobody (argv after the script: `args`); rejects unless it exits 0. */
async function asNobody(script, args) {
  const r = await runAsNobody(['-e', script, ...args]);
  assert.equal(r.code, 0, `nobody's script failed: ${r.stderr}`);
  return r.stdout;
}

/** A sticky world-writable directory like /tmp inside the sandbox, reachable by nobody. */
function sharedDir(sb) {
  chmodSync(sb.dir, 0o711);
  const shared = sb.path('shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  return shared;
}

const TRAP_SCRIPT = `
const fs = require('node:fs');
const [dir, target] = process.argv.slice(1);
for (const sub of ['shell-integration', 'shell-integration/zsh', 'sessions', 'sessions/work']) {
  fs.mkdirSync(dir + '/' + sub);
  fs.chmodSync(dir + '/' + sub, 0o777);
}
fs.symlinkSync(target, dir + '/shell-integration/fish-init.fish');
fs.symlinkSync(target, dir + '/shell-integration/bash-init.sh');
fs.writeFileSync(dir + '/v.sock.log', '');
fs.chmodSync(dir + '/v.sock.log', 0o666);
fs.writeFileSync(dir + '/v.log', '');
fs.chmodSync(dir + '/v.log', 0o666);
fs.symlinkSync(target, dir + '/link.log');
fs.mkdirSync(dir + '/v.sock.lock');
`;

const SWAP_SCRIPT = `
const fs = require('node:fs');
const [dir] = process.argv.slice(1);
const init = dir + '/shell-integration/bash-init.sh';
fs.rmSync(init, { force: true });
fs.writeFileSync(init, 'id > "' + dir + '/PWNED"\\n');
fs.chmodSync(init, 0o777);
`;

test('--socket in a shared sticky directory: another user can neither run code as the victim nor touch its files (issue 15)', { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  const shared = sharedDir(sb);
  const important = sb.path('h', 'important.txt');
  writeFileSync(important, 'precious\n');
  await asNobody(TRAP_SCRIPT, [shared, important]);
  const socket = join(shared, 'v.sock');
  const g = ['--socket', socket];
  await sb.runOk([...g, 'attach', '-b', 'work']);
  // The trap is replaced by a script of nobody's while the daemon runs; the next shell must not run it.
  await asNobody(SWAP_SCRIPT, [shared]);
  const term = await sb.attachShell('work2', { args: g });
  assert.equal(await shellRun(term, 'echo $TSHPOOL_SESSION_NAME'), 'work2\n');
  assert.equal(existsSync(join(shared, 'PWNED')), false, "nobody's script ran as the victim");
  assert.equal(readFileSync(important, 'utf8'), 'precious\n', "the victim's file was written through nobody's symlink");
  assert.equal(readFileSync(join(shared, 'v.sock.log'), 'utf8'), '', "the victim's log went to nobody's file");
  assert.deepEqual(readdirSync(join(shared, 'sessions')), ['work'], "session directories were made in nobody's directory");
  // Everything but the socket lives in the victim's private runtime directory.
  const st = JSON.parse((await sb.runOk([...g, 'status', '--json'])).stdout);
  const state = dirname(st.logFile);
  assert.equal(dirname(state), join(sb.runtimeDir, 'tshpool'));
  assert.match(state, /\/socket-[0-9a-f]{12}$/);
  assert.equal(lstatSync(state).mode & 0o777, 0o700);
  for (const f of ['shell-integration/bash-init.sh', 'sessions/work2', 'tshpool.log']) assert.ok(existsSync(join(state, f)), f);
  assert.equal(lstatSync(socket).mode & 0o777, 0o600);
});

test('a --log-file another user could read or redirect is refused with the reason; one of ours in a sticky directory is 0600 (issue 15)', { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  const shared = sharedDir(sb);
  const important = sb.path('h', 'important.txt');
  writeFileSync(important, 'precious\n');
  await asNobody(TRAP_SCRIPT, [shared, important]);
  for (const [file, reason] of [
    [join(shared, 'v.log'), /it belongs to uid 65534, not to you \(uid 0\)/],
    [join(shared, 'link.log'), /it is a symbolic link/],
  ]) {
    for (const args of [['attach', '-b', 'x'], ['daemon']]) {
      const r = await sb.run(['--log-file', file, ...args], { timeout: 10_000 });
      assert.equal(r.code, 1, `${file} ${args[0]}: ${r.stderr} ${r.stdout} daemons=${sb.daemonProcesses().map((p) => procCmdline(p).join(" "))}`);
      assert.match(r.stderr, new RegExp(`refusing to write the log to ${file.replace(/[/.]/g, '\\$&')}: ${reason.source}.*--log-file`, 's'));
    }
  }
  assert.deepEqual(sb.daemonProcesses(), [], 'no daemon started');
  assert.equal(readFileSync(important, 'utf8'), 'precious\n');
  assert.equal(readFileSync(join(shared, 'v.log'), 'utf8'), '');
  const doctor = await sb.run(['--log-file', join(shared, 'v.log'), 'doctor']);
  assert.match(doctor.stdout, /FAIL {2}refusing to write the log to .*belongs to uid 65534/);
  // A log of our own in the sticky directory is fine, and private.
  const mine = join(shared, 'mine.log');
  await sb.runOk(['--log-file', mine, 'attach', '-b', 'y']);
  await waitUntil(() => existsSync(mine) && /daemon started/.test(readFileSync(mine, 'utf8')), { message: 'our log' });
  assert.equal(lstatSync(mine).mode & 0o777, 0o600);
  assert.equal(lstatSync(mine).uid, 0);
});

test("a socket served by another user in a shared directory is refused by the client before it sends anything (issue 15)", { skip: needsRoot }, async (t) => {
  const sb = await makeSandbox(t);
  const shared = sharedDir(sb);
  const socket = join(shared, 'v.sock');
  const fake = spawn(NODE, ['-e', `
    const net = require('node:net');
    const got = [];
    net.createServer((c) => c.on('data', (d) => got.push(d.length))).listen(process.argv[1], () => console.log('ready'));
    setInterval(() => { if (got.length) console.log('received', got.join(',')); }, 50);
  `, socket], { uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => terminate(fake.pid));
  let out = '';
  fake.stdout.on('data', (d) => (out += d));
  await waitUntil(() => out.includes('ready'), { message: "nobody's fake daemon" });
  const r = await sb.run(['--socket', socket, 'attach', '-b', 'secret']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /served by uid 65534, not by you \(uid 0\): refusing to talk to it.*--socket in a directory only you can write/s);
  await new Promise((res) => setTimeout(res, 200));
  assert.doesNotMatch(out, /received/, 'the client sent nothing to the impersonator');
});
