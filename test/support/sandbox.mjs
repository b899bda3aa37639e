/**
 * Sandboxes for black-box tests of the real `bin/tshpool`.
 *
 * Every sandbox is a short private temp dir (/tmp/tsp-XXXXXX, so socket paths stay
 * far below the 107-byte limit) with its own HOME, XDG_RUNTIME_DIR (0700),
 * XDG_CONFIG_HOME and config file, and a minimal environment. Commands run with
 * that environment, so they talk to this sandbox's daemon only.
 *
 *   import { makeSandbox, waitUntil } from '../support/sandbox.mjs';
 *
 *   test('...', async (t) => {
 *     const sb = await makeSandbox(t);            // cleaned up by t.after
 *     const term = sb.spawnTerm(['attach', 'main']);
 *     term.write('echo A$((1+1))B\r');
 *     await term.waitFor('A2B');
 *     const r = await sb.run(['list', '--json']);  // { code, signal, stdout, stderr, ms }
 *   });
 *
 * The shell is predictable: the config says `shell = "/bin/bash"` and the sandbox
 * HOME has a ~/.bash_profile / ~/.bashrc that set PS1='$ ' (tshpool may still put
 * its prompt_prefix in front), no history file, no bracketed paste, and export
 * TSHPOOL_TEST_PROFILE=1 (to tell whether rc files ran). Match on what commands
 * compute, not on prompts: see shellReady() / shellRun().
 *
 * API (all paths absolute; `sb` = await makeSandbox(t, { config, env, bin })):
 *   sb.dir sb.home sb.runtimeDir sb.configHome sb.configFile sb.socketPath sb.logPath
 *   sb.env                          the environment of every command
 *   sb.path(...parts)               a path inside sb.dir
 *   sb.writeConfig(toml)            BASE_CONFIG + toml (the daemon reads it when it starts)
 *   sb.run(args, {input, env, cwd, timeout}) → {code, signal, stdout, stderr, ms}
 *   sb.runOk(args, opts)            run(), rejecting unless exit 0
 *   sb.spawnTerm(args, {cols, rows, env, cwd}) → PtyTerm running tshpool ARGS
 *   sb.attachShell(name, {args, ...}) → PtyTerm attached, after its shell answered
 *   sb.shellTerm(script, opts)      → PtyTerm running sh -c SCRIPT ("$TSHPOOL" = tshpool)
 *   sb.spawnChild(args, spawnOpts)  → ChildProcess (e.g. a foreground `daemon`)
 *   sb.daemonPid()                  pid from `tshpool version`, or null (never starts one)
 *   sb.list() / sb.session(name)    `list --json` sessions / one of them
 *   sb.waitForList(pred, {timeout}) polls `list --json` until pred(sessions)
 *   sb.connectRaw()                 → RawClient on the socket (frames, hello, request...)
 *   sb.processes() / sb.daemonProcesses()  live pids of this sandbox (by HOME) / its daemons
 *   sb.cleanup()                    see below
 * Helpers: waitUntil(fn, {timeout, interval, message}), shellReady(term), shellRun(term, cmd),
 * isAlive(pid), procState/procCmdline/procEnv(pid), terminate(pid), encodeFrame/decodeFrames,
 * RawClient, FRAME, BIN, NODE, VERSION, ROOT.
 *
 * Environment knobs: TSHPOOL_TEST_BIN=/path/to/bin/tshpool tests another build;
 * TSHPOOL_TEST_KEEP_DIRS=1 keeps sandbox dirs (daemon logs) for post-mortems.
 *
 * cleanup() (registered with t.after when a test context is given) kills every
 * terminal and child the sandbox spawned, the daemon (SIGTERM, then SIGKILL), any
 * process still running with this sandbox's HOME (stray shells, losing daemons),
 * and removes the directory.
 */
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '../../dist/protocol/messages.js';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PtyTerm } from './pty-term.mjs';
import { FRAME, encodeFrame } from './requests.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The executable under test: bin/tshpool of this checkout, or $TSHPOOL_TEST_BIN
 * (e.g. the bin/tshpool of another build or an installed package).
 */
export const BIN = process.env.TSHPOOL_TEST_BIN ? resolve(process.env.TSHPOOL_TEST_BIN) : join(ROOT, 'bin', 'tshpool');
/** The node that runs it (the test's own). */
export const NODE = process.execPath;
/** The version tshpool should report (from the package.json beside its bin/). */
export const VERSION = JSON.parse(readFileSync(join(dirname(BIN), '..', 'package.json'), 'utf8')).version;

/** First lines of every sandbox config file (writeConfig appends the test's TOML). */
export const BASE_CONFIG = 'shell = "/bin/bash"\n';

const BASH_RC = [
  "PS1='$ '",
  'PS2=',
  'unset PROMPT_COMMAND',
  'HISTFILE=/dev/null',
  "bind 'set enable-bracketed-paste off' 2>/dev/null",
  'export TSHPOOL_TEST_PROFILE=1',
  '',
].join('\n');

// ---------------------------------------------------------------------------
// Small process and polling helpers

/** Polls `fn` (sync or async) until it returns a truthy value, which is returned. */
export async function waitUntil(fn, { timeout = 10_000, interval = 25, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await sleep(interval);
  }
}

/** A process's state letter from /proc (R, S, T, Z...), or null when it does not exist. */
export function procState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Is `pid` a live process (not gone, not a zombie)? */
export function isAlive(pid) {
  const s = procState(pid);
  return s !== null && s !== 'Z' && s !== 'X';
}

/** A process's argv from /proc, or null. */
export function procCmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** A process's environment from /proc as an object, or null. */
export function procEnv(pid) {
  try {
    const out = {};
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
  } catch {
    return null;
  }
}

/** All live pids on the system (from /proc). */
export function allPids() {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

function trySignal(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (or `first`), then SIGKILL after `graceMs` if still alive. Resolves when gone. */
export async function terminate(pid, { first = 'SIGTERM', graceMs = 2000 } = {}) {
  if (!pid || !isAlive(pid)) return;
  trySignal(pid, first);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  if (isAlive(pid)) {
    trySignal(pid, 'SIGKILL');
    const hard = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < hard) await sleep(20);
  }
}

// ---------------------------------------------------------------------------
// Raw protocol access (for tests that talk to the socket directly)

export { FRAME, encodeFrame };

/** Splits a byte stream into frames; a trailing partial frame is ignored. */
export function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  while (buf.length - off >= 5) {
    const kind = buf.readUInt8(off);
    const len = buf.readUInt32BE(off + 1);
    if (buf.length - off - 5 < len) break;
    const body = buf.subarray(off + 5, off + 5 + len);
    frames.push(kind === FRAME.CONTROL ? { kind, message: JSON.parse(body.toString('utf8')) } : { kind, data: body });
    off += 5 + len;
  }
  return frames;
}

/**
 * A raw connection to a tshpool socket, for protocol-level tests: send any bytes,
 * collect everything received, decode frames, wait for replies or for the close.
 */
export class RawClient {
  static connect(path) {
    return new Promise((resolvePromise, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolvePromise(new RawClient(sock));
      });
      sock.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    /** Every byte received so far. */
    this.received = Buffer.alloc(0);
    /** Set when the connection closed: ms since connect. */
    this.closedAfterMs = null;
    this.error = null;
    const started = Date.now();
    this._closed = new Promise((resolveClosed) => {
      socket.on('data', (d) => {
        this.received = Buffer.concat([this.received, d]);
        this._onChange?.();
      });
      socket.on('error', (err) => (this.error = err));
      socket.on('close', () => {
        this.closedAfterMs = Date.now() - started;
        resolveClosed(this.closedAfterMs);
        this._onChange?.();
      });
    });
  }

  get closed() {
    return this.closedAfterMs !== null;
  }

  /** Writes raw bytes (ignored once closed). */
  write(bytes) {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  writeFrame(kind, payload) {
    this.write(encodeFrame(kind, payload));
  }

  /** Sends a control message (a JSON object, string or bytes as the payload). */
  send(message) {
    this.writeFrame(FRAME.CONTROL, message);
  }

  /** Sends the client hello for protocol `protocol` (default 1). */
  hello(protocol = PROTOCOL_VERSION, version = VERSION) {
    this.send({ type: 'hello', protocol, version });
  }

  /** The complete frames received so far. */
  frames() {
    return decodeFrames(this.received);
  }

  /** Control messages received so far. */
  messages() {
    return this.frames()
      .filter((f) => f.kind === FRAME.CONTROL)
      .map((f) => f.message);
  }

  /** Waits until `pred(messages)` holds (or the connection closes: then rejects); returns the messages. */
  waitMessages(pred, timeout = 5000) {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        let msgs = [];
        try {
          msgs = this.messages();
        } catch {
          // a partial or undecodable frame: keep waiting
        }
        if (pred(msgs)) return finish(resolvePromise, msgs);
        if (this.closed) finish(reject, new Error(`connection closed; messages: ${JSON.stringify(msgs)}`));
      };
      const finish = (fn, v) => {
        clearTimeout(timer);
        this._onChange = null;
        fn(v);
      };
      const timer = setTimeout(() => finish(reject, new Error(`no matching message within ${timeout} ms; got ${this.received.length} bytes`)), timeout);
      this._onChange = check;
      check();
    });
  }

  /** hello, then `request`; resolves to the reply to the request. */
  async request(request, timeout = 5000) {
    this.hello();
    this.send(request);
    const msgs = await this.waitMessages((m) => m.length >= 2, timeout);
    return msgs[1];
  }

  /** Resolves to ms from connect to close; rejects after `timeout`. */
  waitClose(timeout = 5000) {
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeout} ms`)), timeout);
      this._closed.then((ms) => {
        clearTimeout(timer);
        resolvePromise(ms);
      });
    });
  }

  destroy() {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------

class Sandbox {
  constructor({ bin = BIN, config = '', env = {}, nodeArgs = [] } = {}) {
    this.bin = bin;
    /** Node flags put before the bin (a wrapper run with --import, say). */
    this.nodeArgs = nodeArgs;
    this.dir = mkdtempSync('/tmp/tsp-');
    chmodSync(this.dir, 0o700);
    this.home = join(this.dir, 'h');
    this.runtimeDir = join(this.dir, 'r');
    this.configHome = join(this.dir, 'c');
    mkdirSync(this.home);
    mkdirSync(this.runtimeDir, { mode: 0o700 });
    chmodSync(this.runtimeDir, 0o700);
    mkdirSync(join(this.configHome, 'tshpool'), { recursive: true });
    /** The user config file tshpool reads ($XDG_CONFIG_HOME/tshpool/config.toml). */
    this.configFile = join(this.configHome, 'tshpool', 'config.toml');
    /** Where the daemon listens and logs by default. */
    this.socketPath = join(this.runtimeDir, 'tshpool', 'tshpool.socket');
    this.logPath = join(this.runtimeDir, 'tshpool', 'tshpool.log');
    writeFileSync(join(this.home, '.bash_profile'), BASH_RC);
    writeFileSync(join(this.home, '.bashrc'), BASH_RC);
    /** The environment every command of this sandbox runs with. */
    this.env = {
      PATH: `${dirname(NODE)}:/usr/local/bin:/usr/bin:/bin`,
      HOME: this.home,
      TERM: 'xterm-256color',
      SHELL: '/bin/bash',
      XDG_RUNTIME_DIR: this.runtimeDir,
      XDG_CONFIG_HOME: this.configHome,
      XDG_DATA_HOME: join(this.dir, 'd'),
      XDG_STATE_HOME: join(this.dir, 's'),
      XDG_CACHE_HOME: join(this.dir, 'k'),
      ...env,
    };
    this.terms = [];
    this.children = [];
    this.sockets = [];
    this.daemonPids = new Set();
    this.cleanedUp = false;
    this.writeConfig(config);
  }

  /** Writes the config file: BASE_CONFIG (unless base: false) followed by `toml`. */
  writeConfig(toml = '', { base = true } = {}) {
    writeFileSync(this.configFile, (base ? BASE_CONFIG : '') + toml);
  }

  /** A path inside the sandbox dir. */
  path(...parts) {
    return join(this.dir, ...parts);
  }

  _env(extra) {
    const env = { ...this.env, ...extra };
    for (const [k, v] of Object.entries(env)) if (v === undefined || v === null) delete env[k];
    return env;
  }

  /**
   * Runs one tshpool command to completion, without a terminal.
   * opts.input: written to stdin, which is then closed (default: stdin is /dev/null).
   * opts.env: extra/overriding variables (undefined removes one). opts.cwd (default HOME).
   * opts.timeout (default 20 s): the command is SIGKILLed and the promise rejects.
   * Resolves to { code, signal, stdout, stderr, ms }.
   */
  run(args, opts = {}) {
    const { input, env, cwd = this.home, timeout = 20_000 } = opts;
    const started = Date.now();
    return new Promise((resolvePromise, reject) => {
      const child = spawn(NODE, [...this.nodeArgs, this.bin, ...args], {
        env: this._env(env),
        cwd,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      this.children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      if (input !== undefined) {
        child.stdin.on('error', () => undefined);
        child.stdin.end(input);
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tshpool ${args.join(' ')}: no exit within ${timeout} ms; stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`));
      }, timeout);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  /** Like run(), but rejects unless the command exits 0. */
  async runOk(args, opts) {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`tshpool ${args.join(' ')} exited ${r.code} (signal ${r.signal}): stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
    return r;
  }

  /**
   * Starts tshpool in a real pty (the test is its terminal) and returns the PtyTerm.
   * opts: cols, rows (default 80x24), env (extra variables), cwd (default HOME).
   */
  spawnTerm(args, opts = {}) {
    const env = this._env(opts.env);
    const term = new PtyTerm(NODE, [...this.nodeArgs, this.bin, ...args], {
      env,
      cwd: opts.cwd ?? this.home,
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      label: `tshpool ${args.join(' ')}`,
    });
    this.terms.push(term);
    return term;
  }

  /**
   * Runs a /bin/sh script in a real pty with the sandbox environment, where
   * "$TSHPOOL" runs tshpool: e.g. to look at the terminal after tshpool exits
   * (`$TSHPOOL attach x; stty -a`). opts as for spawnTerm.
   */
  shellTerm(script, opts = {}) {
    const env = this._env({ TSHPOOL: `${NODE} ${this.bin}`, ...opts.env });
    const term = new PtyTerm('/bin/sh', ['-c', script], {
      env,
      cwd: opts.cwd ?? this.home,
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      label: `sh -c ${JSON.stringify(script)}`,
    });
    this.terms.push(term);
    return term;
  }

  /** Starts tshpool as a plain child process (node:child_process spawn options), tracked for cleanup. */
  spawnChild(args, opts = {}) {
    const child = spawn(NODE, [...this.nodeArgs, this.bin, ...args], { cwd: this.home, stdio: 'pipe', ...opts, env: this._env(opts.env) });
    this.children.push(child);
    return child;
  }

  /** The pid of this sandbox's running daemon (from `tshpool version`), or null. Never starts one. */
  async daemonPid() {
    const r = await this.run(['version']);
    const m = /\(daemon, pid (\d+)\)/.exec(r.stdout);
    if (!m) return null;
    const pid = Number(m[1]);
    this.daemonPids.add(pid);
    return pid;
  }

  /** `tshpool list --json` parsed: the array of sessions. Starts a daemon if none runs. */
  async list() {
    const r = await this.runOk(['list', '--json']);
    return JSON.parse(r.stdout).sessions;
  }

  /** One session's `list --json` entry, or undefined. */
  async session(name) {
    return (await this.list()).find((s) => s.name === name);
  }

  /** Waits until `tshpool list --json` satisfies `pred(sessions)`; returns the sessions. */
  async waitForList(pred, { timeout = 10_000, message = 'list --json to match' } = {}) {
    let last;
    try {
      return await waitUntil(
        async () => {
          last = await this.list();
          return pred(last) ? last : null;
        },
        { timeout, interval: 50, message },
      );
    } catch (err) {
      err.message += `; last list: ${JSON.stringify(last)}`;
      throw err;
    }
  }

  /**
   * Attaches to (creating if needed) session `name` in a new terminal and waits
   * until its shell answers; returns the PtyTerm.
   */
  async attachShell(name, opts = {}) {
    const term = this.spawnTerm(['attach', ...(opts.args ?? []), name], opts);
    await shellReady(term, opts.timeout);
    return term;
  }

  /** A RawClient connected to the daemon socket (default: this sandbox's); tracked for cleanup. */
  async connectRaw(path = this.socketPath) {
    const c = await RawClient.connect(path);
    this.sockets.push(c);
    return c;
  }

  /** Pids of processes that run with this sandbox's HOME (daemons, clients, shells), except this process. */
  processes() {
    return allPids().filter((pid) => pid !== process.pid && procEnv(pid)?.HOME === this.home && isAlive(pid));
  }

  /** Pids of live tshpool daemons of this sandbox (argv ends in `daemon`, HOME is the sandbox's). */
  daemonProcesses() {
    return this.processes().filter((pid) => {
      const argv = procCmdline(pid);
      // The daemon is tshpool's own program, also when a wrapper (this.bin) started it.
      return argv !== null && argv[argv.length - 1] === 'daemon';
    });
  }

  /** Kills everything this sandbox started and removes its directory. Idempotent. */
  async cleanup() {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    for (const s of this.sockets) s.destroy();
    for (const term of this.terms) {
      if (!term.exit) trySignal(term.pid, 'SIGCONT');
      term.kill('SIGKILL');
      term.dispose();
    }
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const daemons = new Set([...this.daemonPids, ...this.daemonProcesses()]);
    await Promise.all([...daemons].map((pid) => terminate(pid, { graceMs: 2000 })));
    // Whatever is left (shells of a SIGKILLed daemon, stray children): SIGKILL.
    for (let round = 0; round < 3; round++) {
      const left = this.processes();
      if (left.length === 0) break;
      for (const pid of left) trySignal(pid, 'SIGKILL');
      await sleep(50);
    }
    if (process.env.TSHPOOL_TEST_KEEP_DIRS) process.stderr.write(`# sandbox kept: ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Creates a sandbox. `t` (a node:test context, optional) registers cleanup with t.after.
 * opts.config: TOML appended to BASE_CONFIG; opts.env: extra environment; opts.bin: another
 * executable to test instead of bin/tshpool (e.g. a wrapper program with hooks).
 */
export async function makeSandbox(t, opts = {}) {
  if (t && typeof t.after !== 'function') {
    opts = t;
    t = null;
  }
  const sb = new Sandbox(opts);
  if (t) t.after(() => sb.cleanup());
  return sb;
}

/**
 * Waits until the shell in `term` executes commands: types a marker command and
 * waits for its computed output. Returns the mark just after the answer.
 */
let readyCounter = 0;
/**
 * A test's `skip` value for a tool it needs: false when `present`. Outside CI a
 * missing tool skips the test with `why`; in CI (CI=true) it never skips, because
 * .ci/run installs every tool the suite needs — a missing one there must fail.
 */
export function skipWithout(present, why) {
  return present || process.env.CI ? false : why;
}

/** skipWithout for a program given by its path. */
export const skipUnless = (file) => skipWithout(existsSync(file), `${file} is not installed`);

/** The default detach keybinding, Ctrl-Space Ctrl-q. */
export const DETACH = '\x00\x11';

/** Detaches `term` with the keybinding; the client must exit 0. */
export async function detachByKeys(term) {
  term.write(DETACH);
  assert.deepEqual(await term.waitExit(), { exitCode: 0, signal: 0 }, `detach: ${term.clean.slice(-500)}`);
}

/** Reattaches `name` in a NEW terminal and waits until the client has its terminal in raw mode. */
export async function reattach(sb, name, opts = {}) {
  const term = sb.spawnTerm(['attach', name], opts);
  await term.waitRawMode();
  return term;
}

export async function shellReady(term, timeout = 15_000) {
  const n = 1000 + (readyCounter++ % 9000);
  term.write(`echo R$((${n}+1))Y\r`);
  await term.waitFor(`R${n + 1}Y`, { timeout });
  return term.mark();
}

/**
 * Runs `cmd` in the shell of `term` and waits for it to finish; resolves to its output
 * (the text between the start and end markers, ANSI removed, CRs dropped).
 */
let runCounter = 0;
export async function shellRun(term, cmd, { timeout = 10_000 } = {}) {
  const n = 100 + (runCounter++ % 900);
  const since = term.mark();
  term.write(`echo S$((${n}+1))S; ${cmd}; echo E$((${n}+1))E\r`);
  const m = await term.waitFor(new RegExp(`S${n + 1}S\\r*\\n([\\s\\S]*?)E${n + 1}E`), { timeout, since, clean: true });
  return m[1].replace(/\r/g, '');
}

export { PtyTerm };
