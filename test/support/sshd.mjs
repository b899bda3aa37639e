/**
 * A real OpenSSH server for end-to-end tests, private to one sandbox.
 *
 *   import { sshUnavailable, startSshd, startAgent } from '../support/sshd.mjs';
 *
 *   test('...', { skip: sshUnavailable() }, async (t) => {
 *     const sb = await makeSandbox(t);
 *     const sshd = await startSshd(t, sb);        // stopped by t.after (with every sshd child)
 *     const term = sshd.spawnSsh(['attach', 'main']);   // `ssh -tt ... <wrapper> attach main` in a PtyTerm
 *   });
 *
 * Everything lives in `<sandbox>/ssh`: a throwaway host key and user key (ssh-keygen),
 * authorized_keys, a private sshd_config and pid file. sshd (/usr/sbin/sshd, run
 * as the current user: root in CI) listens on 127.0.0.1 on a free port in the
 * foreground (`-D -e`), so its log is collected from stderr.
 *
 * sshd resets the environment of the remote command, so the remote side runs
 * `<sandbox>/ssh/tshpool-remote`: a wrapper that exports the sandbox's HOME,
 * XDG_* and PATH and execs `node bin/tshpool "$@"`. SSH_AUTH_SOCK (set by sshd for
 * agent forwarding) and TERM (sent by the ssh client) pass through untouched.
 */
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE, PtyTerm, allPids, isAlive, procEnv, terminate, waitUntil } from './sandbox.mjs';

export const SSHD = '/usr/sbin/sshd';
const isRoot = process.getuid?.() === 0;

/** The absolute path of `cmd` on PATH (or in /usr/bin, /bin), or null. */
export function which(cmd) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

/** Why the SSH tests cannot run here (a skip message), or false when they can. */
export function sshUnavailable() {
  if (!existsSync(SSHD)) return `${SSHD} is missing (install openssh-server; .ci/run does when root)`;
  for (const c of ['ssh', 'ssh-keygen', 'ssh-agent', 'ssh-add']) {
    if (!which(c)) return `${c} is missing (install openssh-client)`;
  }
  return false;
}

function sq(value) {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function keygen(file, comment) {
  execFileSync(which('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Parent pid of `pid` from /proc, or null. */
function ppid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children first found, deepest last). */
export function descendants(root) {
  const parents = new Map(allPids().map((p) => [p, ppid(p)]));
  const out = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift();
    for (const [child, parent] of parents) {
      if (parent === p && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out.filter(isAlive);
}

class Sshd {
  constructor(sb) {
    this.sb = sb;
    this.dir = sb.path('ssh');
    mkdirSync(this.dir, { mode: 0o700 });
    /** Marks every process of this server (sshd re-execs itself per connection with its environment). */
    this.marker = `tshpool-sshd-${this.dir}`;
    this.hostKey = join(this.dir, 'host_ed25519');
    /** The user's private key, authorised to log in. */
    this.userKey = join(this.dir, 'id_ed25519');
    this.userKeyComment = 'tshpool-test-user';
    this.config = join(this.dir, 'sshd_config');
    this.wrapper = join(this.dir, 'tshpool-remote');
    this.user = userInfo().username;
    this.log = '';
    this.proc = null;
    this.agents = [];
  }

  async start() {
    keygen(this.hostKey, 'tshpool-test-host');
    keygen(this.userKey, this.userKeyComment);
    const authorized = join(this.dir, 'authorized_keys');
    writeFileSync(authorized, readFileSync(`${this.userKey}.pub`));
    chmodSync(authorized, 0o600);

    // The remote command's environment: the sandbox's (sshd gives it a fresh one).
    const exports = Object.entries(this.sb.env)
      .filter(([k]) => k !== 'TERM')
      .map(([k, v]) => `export ${k}=${sq(v)}`);
    writeFileSync(this.wrapper, ['#!/bin/sh', ...exports, `exec ${sq(NODE)} ${sq(this.sb.bin)} "$@"`, ''].join('\n'));
    chmodSync(this.wrapper, 0o755);

    this.port = await freePort();
    writeFileSync(
      this.config,
      [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${this.hostKey}`,
        `PidFile ${join(this.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorized}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${this.user}`,
        'StrictModes no',
        'UsePAM no',
        'AllowAgentForwarding yes',
        'AllowTcpForwarding no',
        'X11Forwarding no',
        'PermitTTY yes',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        'PermitUserEnvironment no',
        // Marks the remote side's environment, so a test can tell that a process ran under this sshd.
        'SetEnv TSHPOOL_TEST_VIA_SSH=1',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    );
    // Privilege separation (sshd as root) needs its empty directory, normally made by the service unit.
    if (isRoot && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    this.proc = spawn(SSHD, ['-D', '-e', '-f', this.config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TSHPOOL_TEST_SSHD: this.marker },
    });
    this.proc.stdout.setEncoding('utf8').on('data', (d) => (this.log += d));
    this.proc.stderr.setEncoding('utf8').on('data', (d) => (this.log += d));
    const exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    const listening = waitUntil(() => this.log.includes(`Server listening on 127.0.0.1 port ${this.port}`), {
      timeout: 10_000,
      message: 'sshd to listen',
    });
    const first = await Promise.race([listening.then(() => null), exited]);
    if (first) throw new Error(`sshd exited (${JSON.stringify(first)}) before listening: ${this.log}`);
    return this;
  }

  /** Arguments for `ssh` to this server running the sandbox's tshpool with `args`. */
  sshArgs(args, { agent = false } = {}) {
    return [
      '-F', '/dev/null',
      '-tt',
      '-i', this.userKey,
      '-p', String(this.port),
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'LogLevel=ERROR',
      ...(agent ? ['-A'] : ['-a']),
      `${this.user}@127.0.0.1`,
      this.wrapper,
      ...args,
    ];
  }

  /**
   * Runs `ssh -tt ... <wrapper> ARGS` in a PtyTerm (the test is the terminal);
   * opts.agent: an Agent to forward (-A with its SSH_AUTH_SOCK). Killed by the sandbox's cleanup.
   */
  spawnSsh(args, { agent = null, cols = 80, rows = 24 } = {}) {
    const env = { PATH: this.sb.env.PATH, HOME: this.sb.home, TERM: 'xterm-256color' };
    if (agent) env.SSH_AUTH_SOCK = agent.socket;
    const term = new PtyTerm(which('ssh'), this.sshArgs(args, { agent: !!agent }), {
      env,
      cwd: this.sb.home,
      cols,
      rows,
      label: `ssh ${args.join(' ')}`,
    });
    this.sb.terms.push(term);
    return term;
  }

  /** Starts an ssh-agent in the foreground listening on `<sandbox>/ssh/<name>.sock`, holding `keys`. */
  async startAgent(name, keys = [this.userKey]) {
    const socket = join(this.dir, `${name}.sock`);
    const proc = spawn(which('ssh-agent'), ['-D', '-a', socket], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: this.sb.env.PATH, HOME: this.sb.home } });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    proc.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    const agent = { socket, proc, pid: proc.pid, stop: () => terminate(proc.pid, { graceMs: 1000 }) };
    this.agents.push(agent);
    await waitUntil(() => existsSync(socket) || proc.exitCode !== null, { timeout: 5000, message: `ssh-agent on ${socket}` });
    if (!existsSync(socket)) throw new Error(`ssh-agent did not start: ${out}`);
    for (const key of keys) {
      execFileSync(which('ssh-add'), ['-q', key], { env: { PATH: this.sb.env.PATH, HOME: this.sb.home, SSH_AUTH_SOCK: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    return agent;
  }

  /**
   * Like term.waitFor, but a failure also shows the tail of sshd's log (why a login
   * or a remote command failed is only there).
   */
  async waitFor(term, pattern, opts) {
    try {
      return await term.waitFor(pattern, opts);
    } catch (err) {
      err.message += `\n--- sshd log (tail) ---\n${this.log.slice(-3000)}`;
      throw err;
    }
  }

  /** A further user key (not authorised; only for telling agents apart). */
  extraKey(name, comment) {
    const file = join(this.dir, name);
    keygen(file, comment);
    return file;
  }

  /** This server's processes: the listener, its descendants, and anything carrying its marker. */
  processes() {
    if (!this.proc?.pid) return [];
    const pids = new Set([this.proc.pid, ...descendants(this.proc.pid)]);
    for (const p of allPids()) if (p !== process.pid && procEnv(p)?.TSHPOOL_TEST_SSHD === this.marker) pids.add(p);
    return [...pids].filter(isAlive);
  }

  async stop() {
    for (const a of this.agents) await a.stop();
    if (!this.proc) return;
    // Connections first (they would outlive the listener), then the listener.
    for (let round = 0; round < 3; round++) {
      const left = this.processes().filter((p) => p !== this.proc.pid);
      if (left.length === 0) break;
      await Promise.all(left.map((p) => terminate(p, { graceMs: 500 })));
    }
    await terminate(this.proc.pid, { graceMs: 1000 });
    for (const p of this.processes()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(0);
  }
}

/**
 * Starts a private sshd for sandbox `sb`; stopped (with every connection and agent)
 * after the test, before the sandbox's own cleanup. When not root and sshd cannot
 * run as this user, skips the test (`t.skip`) and resolves to null.
 */
export async function startSshd(t, sb) {
  const sshd = new Sshd(sb);
  t.after(() => sshd.stop());
  try {
    return await sshd.start();
  } catch (err) {
    if (!isRoot) {
      t.skip(`sshd cannot run as a non-root user here: ${err.message.slice(0, 300)}`);
      return null;
    }
    throw err;
  }
}
