/**
 * The lean terminal: the C program leanterm.c (compiled at bench time with `cc`)
 * owns the pty and does every timed thing itself — flood, keystroke echo, time to
 * interactive, a slow link — so no JavaScript runs between a tool and the clock.
 * This side only sends it one command at a time and parses its one-line answers.
 *
 * It has the parts of Term's interface the steps use for set-up and clean-up
 * (pid, write, kill, killNow, waitExit, exited); the measurements are its own methods.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'leanterm.c');

/** Extra time the driver gets beyond a command's own timeout before the harness gives up on it. */
const ANSWER_SLACK_MS = 5000;

let binary = null;

/**
 * Compiles leanterm.c once per source version (cached under the temp dir by hash).
 * Throws with the compiler's message when there is no working `cc`.
 */
export function leanBinary() {
  if (binary) return binary;
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'tshpool-bench-leanterm');
  const out = join(dir, `leanterm-${hash}`);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.${process.pid}`;
    try {
      execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', tmp, SOURCE, '-lutil'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`cannot compile the lean terminal (${SOURCE}) with cc: ${String(err.stderr || err.message).trim().slice(0, 400)}; install a C compiler (\`sudo apt-get install -y build-essential\`)`);
    }
    renameSync(tmp, out);
  }
  binary = out;
  return out;
}

export class LeanTerm {
  /**
   * @param {string} file
   * @param {string[]} args
   * @param {{ env: Record<string,string>, cwd: string, cols?: number, rows?: number, ttiMs?: number }} opts
   *   ttiMs: type a command at once and time its answer from the fork (see tti()).
   */
  constructor(file, args, { env, cwd, cols = 80, rows = 24, ttiMs = 0 }) {
    this.command = [file, ...args].join(' ');
    const flags = ['--cols', String(cols), '--rows', String(rows), ...(ttiMs ? ['--tti', String(ttiMs)] : [])];
    this.proc = spawn(leanBinary(), [...flags, '--', file, ...args], { env, cwd, stdio: ['pipe', 'pipe', 'inherit'] });
    this.pid = null;
    this.exitInfo = null;
    this.answers = [];
    this.waiting = [];
    this.exitWaiters = [];
    this.pidReady = new Promise((resolve) => (this.onPid = resolve));
    let rest = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      rest += d;
      let nl;
      while ((nl = rest.indexOf('\n')) >= 0) {
        this.#onLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    });
    this.proc.stdin.on('error', () => {});
    // Its answer is the first line after the pid: wait for it before anything else is asked.
    this.ttiAnswer = ttiMs
      ? new Promise((resolve, reject) => {
          this.waiting.push({ what: 'time to interactive', resolve: (m) => (m.ok ? resolve(m.ms) : reject(new Error(`${m.error} (\`${this.command}\`)`))), reject });
        })
      : null;
    this.ttiAnswer?.catch(() => {});
    this.proc.on('exit', () => this.#onExit(this.exitInfo ?? { exitCode: null, signal: 'driver exited' }));
  }

  #onLine(line) {
    const msg = JSON.parse(line);
    if ('pid' in msg) {
      this.pid = msg.pid;
      this.onPid(msg.pid);
    } else if (msg.event === 'exit') {
      this.exitInfo = { exitCode: msg.code, signal: msg.signal };
    } else {
      const w = this.waiting.shift();
      if (w) w.resolve(msg);
    }
  }

  #onExit(info) {
    this.exitInfo = info;
    for (const w of this.waiting.splice(0)) w.reject(new Error(`${this.command} exited (code ${info.exitCode}, signal ${info.signal}) before answering ${w.what}`));
    for (const r of this.exitWaiters.splice(0)) r(info);
  }

  /** Sends one command; resolves its answer (throws on { ok: false }). */
  #ask(line, timeoutMs, what = line.split(' ')[0]) {
    if (this.exitInfo) return Promise.reject(new Error(`${this.command} already exited; cannot ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lean terminal did not answer ${what} within ${timeoutMs + ANSWER_SLACK_MS} ms`)), timeoutMs + ANSWER_SLACK_MS);
      this.waiting.push({
        what,
        resolve: (m) => {
          clearTimeout(timer);
          if (m.ok) resolve(m);
          else reject(new Error(`${m.error} (\`${this.command}\`)`));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.stdin.write(`${line}\n`);
    });
  }

  /** The answer to the command typed at start (--tti): ms from fork to the shell's answer. */
  tti() {
    if (!this.ttiAnswer) return Promise.reject(new Error('the lean terminal was not started with ttiMs'));
    return this.ttiAnswer;
  }

  /** Types a marker command (with an optional suffix such as '; exec cat') and waits for its output. */
  ready(timeoutMs, suffix = '') {
    return this.#ask(`ready ${timeoutMs}${suffix ? ` ${Buffer.from(suffix).toString('hex')}` : ''}`, timeoutMs, 'ready');
  }

  /** `seq 1 lines` at the prompt: { time_s, bytes }; `pace` { chunk, pauseUs } makes a slow link. */
  async flood(lines, timeoutMs, pace = null) {
    const m = await this.#ask(`flood ${lines} ${timeoutMs}${pace ? ` ${pace.chunk} ${pace.pauseUs}` : ''}`, timeoutMs);
    return { time_s: m.time_s, bytes: m.bytes };
  }

  /** Keystroke echo into `cat`: latencies in µs. */
  async echo(count, timeoutMs) {
    return (await this.#ask(`echo ${count} ${timeoutMs}`, count * timeoutMs)).samples;
  }

  idle(ms) {
    return this.#ask(`idle ${ms}`, ms);
  }

  write(s) {
    if (!this.exitInfo) this.#ask(`write ${Buffer.from(s, 'latin1').toString('hex')}`, 5000).catch(() => {});
  }

  get exited() {
    return this.exitInfo !== null;
  }

  waitExit(timeoutMs) {
    if (this.exitInfo && this.proc.exitCode !== null) return Promise.resolve(this.exitInfo);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.exitWaiters.push((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  /** Kills the program on the pty (the driver then reports its exit and leaves). */
  async kill(signal = 'SIGKILL', timeoutMs = 2000) {
    if (this.proc.exitCode !== null) return;
    await Promise.race([this.pidReady, new Promise((r) => setTimeout(r, 1000))]);
    try {
      if (this.pid) process.kill(this.pid, signal);
    } catch {
      // gone
    }
    if (!(await this.waitExit(timeoutMs))) this.killNow();
  }

  killNow() {
    for (const pid of [this.pid, this.proc.pid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/**
 * Runs `file args` `count` times from the C driver (fork, exec, wait; output to
 * /dev/null) and resolves the wall time of each run in ms (`.cpuMs`: the CPU time
 * of each, user + system, which load changes less). A run exiting with a
 * code not in `okCodes` rejects (`screen -ls` exits 1 when it lists sessions).
 */
export function timeRuns(file, args, count, { env, cwd, okCodes = [0], timeoutMs = 60_000 }) {
  return new Promise((resolve, reject) => {
    const p = spawn(leanBinary(), ['--run', String(count), '--', file, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => {
      clearTimeout(timer);
      let m;
      try {
        m = JSON.parse(out);
      } catch {
        reject(new Error(`timing \`${file} ${args.join(' ')}\` failed: ${out.slice(0, 200) || 'no answer'}`));
        return;
      }
      const bad = m.codes.find((c) => !okCodes.includes(c));
      if (bad !== undefined) reject(new Error(`\`${file} ${args.join(' ')}\` exited ${bad}`));
      else resolve(Object.assign(m.ms, { cpuMs: m.cpu_ms }));
    });
  });
}
