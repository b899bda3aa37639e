// End-to-end: systemd socket activation and the user units. The test plays
// systemd: it binds and listens on the socket, hands it to the daemon as fd 3 with
// LISTEN_FDS=1 and LISTEN_PID=<the daemon's pid> (sh sets LISTEN_PID=$$ and execs
// the daemon, so the pid is the same), and keeps no copy of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BIN, NODE, isAlive, makeSandbox, procEnv, waitUntil } from '../support/sandbox.mjs';
import { which } from '../support/sshd.mjs';

/**
 * A listening Unix socket at `path`, as systemd would create it; resolves to its fd.
 * Node unlinks a Unix server's path when the server closes, so the socket is bound
 * under a temporary name and renamed into place: closing our copy later unlinks nothing.
 */
function listeningSocket(path) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(`${path}.bind`, () => {
      renameSync(`${path}.bind`, path);
      resolve({ server, fd: server._handle.fd });
    });
  });
}

/** The socket inodes a process holds open (from /proc/<pid>/fd). */
function socketInodes(pid) {
  const out = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

test('socket activation: the daemon serves the socket it was handed on fd 3 and leaves it to systemd on SIGTERM', { timeout: 30_000 }, async (t) => {
  const sb = await makeSandbox(t);
  const dir = sb.path('sd');
  mkdirSync(dir, { mode: 0o700 });
  const socket = join(dir, 'tshpool.socket');
  const { server, fd } = await listeningSocket(socket);
  const inode = statSync(socket).ino;

  const daemon = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', NODE, BIN, '--socket', socket, 'daemon'], {
    env: sb.env,
    cwd: sb.home,
    stdio: ['ignore', 'pipe', 'pipe', fd],
  });
  sb.children.push(daemon);
  sb.daemonPids.add(daemon.pid);
  server.close(); // our copy: the daemon's is the only one now
  let output = '';
  daemon.stdout.setEncoding('utf8').on('data', (d) => (output += d));
  daemon.stderr.setEncoding('utf8').on('data', (d) => (output += d));
  const exited = once(daemon, 'exit');

  // --no-daemonize: nothing may start a daemon of its own; only the activated one can answer.
  const cli = (args) => sb.run(['--socket', socket, '--no-daemonize', ...args]);
  const r = await cli(['attach', '-b', 'x']);
  assert.equal(r.code, 0, r.stderr + output);
  const v = await cli(['version']);
  assert.match(v.stdout, new RegExp(`\\(daemon, pid ${daemon.pid}\\)`), 'the activated process answers');
  const table = await cli(['list']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^x\s+disconnected\s/m);
  const json = JSON.parse((await cli(['list', '--json'])).stdout);
  assert.deepEqual(json.sessions.map((s) => s.name), ['x']);
  const shell = json.sessions[0].pid;

  // Beside a --socket outside the runtime directory, the log is in the private state directory (issue 15).
  const log = JSON.parse((await cli(['status', '--json'])).stdout).logFile;
  assert.ok(log.startsWith(join(sb.runtimeDir, 'tshpool', 'socket-')), log);
  await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('using the listening socket passed by systemd'), {
    timeout: 5000,
    message: 'the daemon to log that it uses the passed socket',
  });
  assert.equal(statSync(socket).ino, inode, 'the daemon did not replace the socket file');

  // The session's shell inherits neither the activation variables nor the listening socket.
  const env = procEnv(shell);
  assert.ok(env, 'the shell runs');
  assert.equal(env.TSHPOOL_SESSION_NAME, 'x');
  for (const k of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) assert.equal(env[k], undefined, `${k} leaked into the session`);
  const listening = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${daemon.pid}/fd/3`))?.[1];
  assert.ok(listening, 'the daemon holds the socket on fd 3');
  assert.equal(socketInodes(shell).has(listening), false, "the session's shell holds the daemon's listening socket");

  process.kill(daemon.pid, 'SIGTERM');
  const [code, signal] = await Promise.race([
    exited,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`daemon still running 5 s after SIGTERM: ${output}`)), 5000)),
  ]);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, output);
  assert.ok(existsSync(socket) && statSync(socket).isSocket(), 'the socket file belongs to systemd and stays');
  assert.equal(statSync(socket).ino, inode);
  await waitUntil(() => !isAlive(shell), { timeout: 3000, message: "the session's shell to be hung up" });
  assert.match(readFileSync(log, 'utf8'), /daemon stopped/);
});

test('systemd install --print prints both units with ExecStart at this node and bin/tshpool', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['systemd', 'install', '--print']);
  assert.equal(r.code, 0, r.stderr);
  const m = /^# tshpool\.socket\n([\s\S]*)\n# tshpool\.service\n([\s\S]*)$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const [, socketUnit, serviceUnit] = m;
  assert.match(socketUnit, /^\[Socket\]$/m);
  assert.match(socketUnit, /^ListenStream=%t\/tshpool\/tshpool\.socket$/m, 'the default socket path under $XDG_RUNTIME_DIR');
  assert.match(serviceUnit, /^\[Service\]$/m);
  const exec = serviceUnit.match(/^ExecStart=.*$/gm);
  assert.deepEqual(exec, [`ExecStart=${NODE} ${BIN} daemon`]);
  assert.equal(existsSync(join(sb.configHome, 'systemd')), false, '--print writes nothing');
});

test('systemd install writes the units into $XDG_CONFIG_HOME/systemd/user (and systemd-analyze accepts them)', async (t) => {
  const sb = await makeSandbox(t);
  const printed = (await sb.runOk(['systemd', 'install', '--print'])).stdout;
  const r = await sb.run(['systemd', 'install']);
  assert.equal(r.code, 0, r.stderr);
  const unitDir = join(sb.configHome, 'systemd', 'user');
  const socketFile = join(unitDir, 'tshpool.socket');
  const serviceFile = join(unitDir, 'tshpool.service');
  assert.ok(r.stdout.includes(socketFile) && r.stdout.includes(serviceFile), r.stdout);
  assert.match(r.stdout, /systemctl --user .*enable --now tshpool\.socket/);
  const socketUnit = readFileSync(socketFile, 'utf8');
  const serviceUnit = readFileSync(serviceFile, 'utf8');
  assert.equal(`# tshpool.socket\n${socketUnit}\n# tshpool.service\n${serviceUnit}`, printed, 'the same units as --print');
  assert.ok(serviceUnit.includes(`\nExecStart=${NODE} ${BIN} daemon\n`));

  const analyze = which('systemd-analyze');
  if (!analyze) {
    t.skip('systemd-analyze is not installed: units not verified');
    return;
  }
  const runtime = sb.path('sd-rt');
  mkdirSync(runtime, { mode: 0o700 });
  const res = await new Promise((resolve) => {
    execFile(analyze, ['--user', 'verify', socketFile, serviceFile], { env: { ...sb.env, XDG_RUNTIME_DIR: runtime }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
  assert.equal(res.code, 0, `systemd-analyze --user verify: ${res.out}`);
  assert.doesNotMatch(res.out, /Unknown key|ignoring|not executable/i, res.out);
});
