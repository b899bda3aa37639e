/**
 * Support for the tests of tshpool-holder and its client (test/unit/holder*.test.mjs).
 *
 *   const h = await holderSandbox(t);              // private /tmp/tsh-XXXXXX (0700), cleaned up by t.after
 *   const client = h.client();                     // a HolderClient on h.socketPath (disposed at the end)
 *   const { sessions } = await client.start();     // starts the holder
 *   const pty = await client.spawn('k', shell('echo hi'), SIZE);
 *   await readUntil(pty, /hi/);
 *
 * Cleanup kills every process the holders of the sandbox forked, then the holders,
 * then removes the directory.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HolderClient } from '../../dist/daemon/holder/holder-client.js';
import { isAlive, ROOT, waitUntil } from './sandbox.mjs';

export const HOLDER_BIN = join(ROOT, 'build', 'Release', 'tshpool-holder');
export const SIZE = { cols: 80, rows: 24 };
export const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', TERM: 'xterm-256color' };

/** A spawn spec running `sh -c SCRIPT`. */
export function shell(script, cwd = '/tmp') {
  return { file: '/bin/sh', args: ['-c', script], env: ENV, cwd };
}

/** The parent pid of a process (from /proc), or null. */
function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Live children of `pid`. */
export function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((p) => parentOf(p) === pid);
}

/** Number of open fds of a process. */
export function fdCount(pid = process.pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size of a process in KiB. */
export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

/** Collects a HeldPty's output until it matches `re`; resolves with all output so far. */
export function readUntil(pty, re, { timeout = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out waiting for ${re} in ${JSON.stringify(out.slice(-500))}`));
    }, timeout);
    const sub = pty.onData((d) => {
      out += d.toString('utf8');
      if (re.test(out)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(out);
      }
    });
  });
}

/** Resolves with the HeldPty's exit and everything it printed before. */
export function outputAndExit(pty) {
  let out = '';
  pty.onData((d) => (out += d.toString('utf8')));
  return new Promise((resolve) => pty.onExit((e) => resolve({ ...e, out })));
}

export async function holderSandbox(t) {
  const dir = mkdtempSync('/tmp/tsh-');
  const socketPath = join(dir, 'tshpool.holder.socket');
  const logPath = join(dir, 'tshpool.holder.log');
  const clients = [];
  const holderPids = new Set();
  const children = new Set();
  const h = {
    dir,
    socketPath,
    logPath,
    holderPids,
    /** A HolderClient for this sandbox; `opts` override HolderClientOptions. */
    client(opts = {}) {
      const c = new HolderClient({ socketPath, logPath, executable: HOLDER_BIN, ...opts });
      clients.push(c);
      const start = c.start.bind(c);
      c.start = async () => {
        const adoption = await start();
        holderPids.add(adoption.holderPid);
        return adoption;
      };
      return c;
    },
    /** Runs test/support/holder-child.mjs (a HolderClient in a process of its own) with `sessions` to spawn. */
    child(sessions) {
      const cp = spawn(process.execPath, [join(ROOT, 'test', 'support', 'holder-child.mjs'), socketPath, logPath, HOLDER_BIN, JSON.stringify(sessions)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.add(cp);
      const lines = [];
      let buffered = '';
      cp.stdout.setEncoding('utf8').on('data', (s) => {
        buffered += s;
        const parts = buffered.split('\n');
        buffered = parts.pop();
        for (const line of parts) {
          const msg = JSON.parse(line);
          if (msg.holderPid) holderPids.add(msg.holderPid);
          lines.push(msg);
        }
      });
      return { process: cp, lines, ready: () => waitUntil(() => lines.find((l) => l.ready), { message: 'the child client to spawn its sessions' }) };
    },
    log() {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    },
  };
  t.after(async () => {
    for (const cp of children) if (cp.exitCode === null && cp.signalCode === null) cp.kill('SIGKILL');
    for (const c of clients) c.dispose();
    for (const pid of holderPids) {
      for (const child of childrenOf(pid)) {
        try {
          process.kill(child, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await waitUntil(() => [...holderPids].every((pid) => !isAlive(pid)), { message: 'the holders to die' });
    if (!process.env.TSHPOOL_TEST_KEEP_DIRS) rmSync(dir, { recursive: true, force: true });
  });
  return h;
}
