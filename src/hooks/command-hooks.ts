/**
 * Hook commands: programs run on session events and decisions, from config
 * `[hooks]` or from `attach --hook NAME=CMD` (that session only). Each runs
 * without a shell (words split like a shell would), in a process group of its
 * own (a timeout kills the whole group, not only the direct child), with the
 * event (or the decision request) as JSON on stdin and TSHPOOL_* variables in its
 * environment. At most HOOK_COMMAND_CONCURRENCY run at once, so a burst of events
 * cannot fork-bomb the machine; the rest wait for a slot, and the wait does not
 * count against the command's timeout.
 */
import { spawn } from 'node:child_process';
import type { HookCommandName } from '../protocol/events.js';
import { splitShellWords } from '../util/shell-words.js';

/** Hook commands running at once; more wait in line. */
export const HOOK_COMMAND_CONCURRENCY = 4;
/** Commands waiting for a slot beyond this are dropped (and counted): a storm must not grow memory without bound. */
export const HOOK_COMMAND_QUEUE_MAX = 1000;
/** After a command exits, how long its output may still flow (a child it left holds the pipes) before they are closed. */
const OUTPUT_AFTER_EXIT_MS = 200;
/** Output of one command kept for the log; the rest is counted and marked. */
const HOOK_OUTPUT_MAX_BYTES = 64 * 1024;

/** How a command ended. `output` is its stdout then stderr, truncated with a marker. */
export type CommandResult =
  | { status: 'ok'; stdout: string; output: string; durationMs: number }
  /** `exitCode`: the command's own non-zero status; null when it could not run or a signal ended it. */
  | { status: 'failed'; reason: string; exitCode: number | null; stdout: string; stderr: string; output: string; durationMs: number }
  | { status: 'timeout'; output: string; durationMs: number }
  | { status: 'dropped' };

/** Variables describing the event, for commands that would rather not parse JSON. */
export interface CommandEnv {
  TSHPOOL_EVENT: string;
  TSHPOOL_SESSION_NAME: string;
  TSHPOOL_REASON?: string;
  TSHPOOL_EXIT_CODE?: string;
  TSHPOOL_SHELL_PID?: string;
  TSHPOOL_CLIENT_PID?: string;
}

class Collector {
  private bytes = 0;
  private dropped = 0;
  private readonly parts: Buffer[] = [];
  push(chunk: Buffer): void {
    const room = HOOK_OUTPUT_MAX_BYTES - this.bytes;
    if (room > 0) this.parts.push(chunk.subarray(0, room));
    this.bytes += Math.min(room > 0 ? room : 0, chunk.length);
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
  }
  text(): string {
    const t = Buffer.concat(this.parts).toString('utf8');
    return this.dropped > 0 ? `${t}\n[... ${this.dropped} more bytes of output not kept]` : t;
  }
}

export class CommandRunner {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** Commands running or waiting for a slot. */
  get inFlight(): number {
    return this.active + this.waiting.length;
  }

  private async acquire(): Promise<boolean> {
    if (this.active < HOOK_COMMAND_CONCURRENCY) {
      this.active++;
      return true;
    }
    if (this.waiting.length >= HOOK_COMMAND_QUEUE_MAX) return false;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    return true;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  /**
   * Runs one command line with `input` as JSON on stdin; never rejects. A decision
   * (`slot: false`) does not wait for a slot: the user waits for it, its number is
   * bounded by the connections, and its deadline is short.
   */
  async run(line: string, hook: HookCommandName, input: object, env: CommandEnv, timeoutMs: number, { slot = true } = {}): Promise<CommandResult> {
    if (!slot) return this.spawnOne(line, hook, input, env, timeoutMs);
    if (!(await this.acquire())) return { status: 'dropped' };
    try {
      return await this.spawnOne(line, hook, input, env, timeoutMs);
    } finally {
      this.release();
    }
  }

  private spawnOne(line: string, hook: HookCommandName, input: object, env: CommandEnv, timeoutMs: number): Promise<CommandResult> {
    const started = performance.now();
    const took = (): number => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let file: string | undefined;
      let args: string[] = [];
      try {
        [file, ...args] = splitShellWords(line);
      } catch (err) {
        resolve(cannotRun(line, err, 0));
        return;
      }
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(file!, args, { env: { ...process.env, TSHPOOL_HOOK: hook, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      } catch (err) {
        // E2BIG, ENOMEM, a NUL in an argument: thrown at once rather than emitted.
        resolve(cannotRun(line, err, took()));
        return;
      }
      const stdout = new Collector();
      const stderr = new Collector();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, timeoutMs);
      child.stdout!.on('data', (c: Buffer) => stdout.push(c));
      child.stderr!.on('data', (c: Buffer) => stderr.push(c));
      child.stdin!.on('error', () => undefined); // the command may not read its stdin
      child.stdin!.end(`${JSON.stringify(input)}\n`);
      // A child it left running (even in a group of its own) may hold the pipes open: 'close' would never come.
      child.once('exit', () => {
        setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
        }, OUTPUT_AFTER_EXIT_MS).unref();
      });
      const output = (): string => [stdout.text(), stderr.text()].filter((t) => t.trim() !== '').join('\n').trimEnd();
      child.once('error', (err) => {
        clearTimeout(timer);
        resolve(cannotRun(line, err, took()));
      });
      child.once('close', (code, sig) => {
        clearTimeout(timer);
        if (timedOut) return resolve({ status: 'timeout', output: output(), durationMs: took() });
        if (code === 0) return resolve({ status: 'ok', stdout: stdout.text(), output: output(), durationMs: took() });
        const reason = `${line}: ${sig ? `killed by ${sig}` : `exited with status ${code}`}`;
        resolve({ status: 'failed', reason, exitCode: sig ? null : code, stdout: stdout.text(), stderr: stderr.text(), output: output(), durationMs: took() });
      });
    });
  }
}

function cannotRun(line: string, err: unknown, durationMs: number): CommandResult {
  return { status: 'failed', reason: `${line}: ${(err as Error).message}`, exitCode: null, stdout: '', stderr: '', output: '', durationMs };
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone.
  }
}
