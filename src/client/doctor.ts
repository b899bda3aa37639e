/**
 * `tshpool doctor`: checks what tshpool needs and prints a fix for each problem.
 */
import { constants } from 'node:fs';
import { closeSync } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { MAX_SOCKET_PATH_BYTES } from '../consts.js';
import { loadConfig, type ConfigSources } from '../config/load.js';
import { runtimeDir, type Paths } from '../paths.js';
import { openLogFile, UnsafeFileError } from '../private-file.js';
import { nativeAddonProblem } from '../platform/native.js';
import { splitShellWords } from '../util/shell-words.js';
import { VERSION } from '../version.js';
import { connectExisting, type DaemonConnection } from './connect.js';
import { ExitCode } from './errors.js';

interface Check {
  ok: boolean;
  /** A warning: shown as WARN, not counted as a problem. */
  warn?: boolean;
  what: string;
  /** How to fix it, when not ok (or a note when ok). */
  fix?: string;
}

function probeSocket(path: string): Promise<'live' | 'stale' | 'dangling' | 'absent' | 'error'> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve('live');
    });
    c.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return resolve('stale');
      if (err.code !== 'ENOENT') return resolve('error');
      // connect follows a symlink; one pointing nowhere still blocks listen.
      lstat(path).then(() => resolve('dangling'), () => resolve('absent'));
    });
  });
}

/** The runtime and state directories must be private (paths.ts checks the same before every use). */
async function checkPrivateDir(dir: string, what: string): Promise<Check> {
  try {
    const st = await lstat(dir);
    const uid = process.getuid!();
    if (!st.isDirectory()) return { ok: false, what: `${dir} is not a directory`, fix: `rm ${dir}  (tshpool recreates it)` };
    if (st.uid !== uid) return { ok: false, what: `${dir} belongs to uid ${st.uid}`, fix: `remove it, or set XDG_RUNTIME_DIR to a directory of yours` };
    if ((st.mode & 0o077) !== 0) return { ok: false, what: `${dir} has mode ${(st.mode & 0o777).toString(8)}`, fix: `chmod 700 ${dir}` };
    return { ok: true, what: `${what} ${dir} is private` };
  } catch {
    return { ok: true, what: `${what} ${dir} does not exist yet`, fix: 'it is created (0700) on first use' };
  }
}

/** Can the daemon write its log? An unsafe --log-file is a problem; a missing one is fine until a daemon runs. */
async function checkLog(paths: Paths, daemonRuns: boolean): Promise<Check> {
  try {
    closeSync(await openLogFile(paths.log));
    return { ok: true, what: `log file ${paths.log}` };
  } catch (err) {
    if (err instanceof UnsafeFileError) return { ok: false, what: err.message, fix: 'use a --log-file in a directory only you can write' };
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !daemonRuns) return { ok: true, what: `log file ${paths.log}` };
    return { ok: false, what: `cannot write the log file ${paths.log}: ${(err as Error).message}`, fix: 'check the directory permissions and free disk space' };
  }
}

/** A hook host that runs is fine; one restarting, or that crashed in the last minute, is a problem to look at. */
const RECENT_CRASH_MS = 60_000;

async function checkHookHost(conn: DaemonConnection): Promise<Check | null> {
  conn.send({ type: 'status' });
  const reply = await conn.next().catch(() => null);
  if (reply?.type !== 'status') return null;
  const h = reply.status.hookHost;
  if (!h) return h === null ? { ok: true, what: 'no hook host (plain tshpool: no wrapper hooks)' } : null;
  const who = `hook host of ${h.command.at(-1)} (hooks: ${h.methods.join(', ') || 'none'})`;
  const crash = h.lastCrash && Date.now() - h.lastCrash.atUnixMs < RECENT_CRASH_MS ? h.lastCrash.cause : null;
  if (h.state !== 'running' || crash) {
    return {
      ok: false,
      what: `${who} is ${h.state}, ${h.restarts} restart(s)${crash ? `; it crashed ${Math.round((Date.now() - h.lastCrash!.atUnixMs) / 1000)} s ago: ${crash}` : ''}`,
      fix: "sessions are not affected; see the hook errors in 'tshpool logs' and fix the wrapper's hooks",
    };
  }
  return { ok: true, what: `${who} running (pid ${h.pid}, ${h.restarts} restart(s))` };
}

export async function doctor(paths: Paths, sources: ConfigSources): Promise<number> {
  const checks: Check[] = [];
  checks.push(await checkPrivateDir(runtimeDir(), 'runtime directory'));
  if (paths.state !== runtimeDir()) checks.push(await checkPrivateDir(paths.state, 'state directory'));

  const bytes = Buffer.byteLength(paths.socket);
  checks.push(
    bytes > MAX_SOCKET_PATH_BYTES
      ? { ok: false, what: `socket path is ${bytes} bytes (limit ${MAX_SOCKET_PATH_BYTES})`, fix: 'use a shorter --socket, XDG_RUNTIME_DIR or TMPDIR' }
      : { ok: true, what: `socket path ${paths.socket}` },
  );

  const state = bytes > MAX_SOCKET_PATH_BYTES ? 'error' : await probeSocket(paths.socket);
  if (state === 'live') {
    const conn = await connectExisting(paths).catch((err: Error) => err);
    if (conn instanceof Error) checks.push({ ok: false, what: `the daemon answers but the handshake failed: ${conn.message}`, fix: 'see the message; restart the daemon if it is an old version' });
    else if (conn) {
      const host = await checkHookHost(conn);
      conn.close();
      if (host) checks.push(host);
      checks.push(
        conn.daemonVersion === VERSION
          ? { ok: true, what: `daemon running (pid ${conn.daemonPid}, version ${conn.daemonVersion})` }
          : { ok: false, what: `daemon version ${conn.daemonVersion} differs from this client's ${VERSION}`, fix: `when no session needs it: kill ${conn.daemonPid} (the next command starts the new version)` },
      );
    }
  } else if (state === 'stale') {
    checks.push({ ok: false, what: 'stale socket: the daemon died (its sessions are lost)', fix: 'run any tshpool command: it removes the stale socket and starts a new daemon' });
  } else if (state === 'dangling') {
    checks.push({ ok: false, what: `a dangling symlink is at the socket path ${paths.socket}`, fix: 'run any tshpool command: it replaces it (or remove it: rm ' + paths.socket + ')' });
  } else if (state === 'absent') {
    checks.push({ ok: true, what: 'no daemon running', fix: 'it starts automatically on first use' });
  } else {
    checks.push({ ok: false, what: `cannot connect to ${paths.socket}`, fix: 'check the path and its permissions' });
  }

  let shellLine: string | null = null;
  try {
    const loaded = loadConfig(sources);
    shellLine = loaded.config.shell;
    checks.push({ ok: true, what: loaded.files.length ? `config valid: ${loaded.files.join(', ')}` : 'no config file (defaults)' });
    // A warning is not a failure (the key is ignored and everything works), but it is shown.
    for (const w of loaded.warnings) checks.push({ ok: true, warn: true, what: `config warning: ${w}`, fix: 'remove or correct the key' });
  } catch (err) {
    checks.push({ ok: false, what: (err as Error).message, fix: 'correct the file (the daemon keeps its previous config until then)' });
  }

  const shell = shellLine ? (splitShellWords(shellLine)[0] ?? '') : userInfo().shell || '/bin/sh';
  const shellOk = await access(shell, constants.X_OK).then(() => true, () => false);
  checks.push(shellOk ? { ok: true, what: `shell ${shell} is executable` } : { ok: false, what: `shell ${shell} is not executable`, fix: 'set `shell` in the config to an installed shell' });

  for (const [name, fix] of [
    ['node-pty', 'reinstall with a C++ toolchain: npm_config_nodedir=/usr npm rebuild node-pty'],
    ['@xterm/headless', 'npm install (screen restore needs it)'],
  ] as const) {
    const loaded = await import(name).then(() => true, () => false);
    checks.push(loaded ? { ok: true, what: `${name} loads` } : { ok: false, what: `${name} does not load`, fix });
  }
  const native = nativeAddonProblem();
  checks.push(
    native
      ? {
          ok: false,
          what: native,
          fix: 'rebuild it in the tshpool package: npm_config_nodedir=/usr npm rebuild tshpool (or npx node-gyp rebuild); until then only directory permissions protect the socket',
        }
      : { ok: true, what: 'native addon loads (peer credential check, raw terminal output)' },
  );

  checks.push(await checkLog(paths, state === 'live'));

  let problems = 0;
  for (const c of checks) {
    if (!c.ok) problems++;
    process.stdout.write(`${c.warn ? 'WARN' : c.ok ? 'ok  ' : 'FAIL'}  ${c.what}\n`);
    if (c.fix) process.stdout.write(`      ${c.ok && !c.warn ? '' : 'fix: '}${c.fix}\n`);
  }
  process.stdout.write(problems ? `\n${problems} problem${problems > 1 ? 's' : ''} found\n` : '\nall good\n');
  return problems ? ExitCode.Error : ExitCode.Ok;
}
