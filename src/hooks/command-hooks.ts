/**
 * Hook commands: programs run on session events, from config `[hooks]` or from
 * `attach --hook NAME=CMD` (that session only). Each runs without a shell (words
 * split like a shell would), with TSHPOOL_HOOK, TSHPOOL_SESSION_NAME and the event
 * as JSON on stdin; its output goes to the daemon log. At most
 * HOOK_COMMAND_CONCURRENCY run at once, so a burst of events cannot fork-bomb the
 * machine; the rest wait their turn (within the hook timeout).
 */
import { spawn } from 'node:child_process';
import { ENV_SESSION_NAME } from '../consts.js';
import type { HookCommandName } from '../config/schema.js';
import { splitShellWords } from '../util/shell-words.js';
import type { HookEvent, HookEventType, HookLog } from './hooks.js';

/** Hook commands running at once; more wait in line. */
export const HOOK_COMMAND_CONCURRENCY = 4;
/** Commands waiting for a slot beyond this are dropped (and logged): a storm must not grow memory without bound. */
export const HOOK_COMMAND_QUEUE_MAX = 1000;
/** Output lines of one command kept in the log; the rest is counted. */
const HOOK_OUTPUT_MAX_BYTES = 64 * 1024;

export const COMMAND_NAME_FOR_EVENT: { [T in HookEventType]: HookCommandName } = {
  new_session: 'on_new_session',
  reattach: 'on_reattach',
  busy: 'on_busy',
  client_disconnect: 'on_client_disconnect',
  shell_disconnect: 'on_shell_disconnect',
};

export class CommandRunner {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly log: HookLog) {}

  /** Commands running or waiting. */
  get pending(): number {
    return this.active + this.waiting.length;
  }

  private async acquire(signal: AbortSignal): Promise<void> {
    if (this.active < HOOK_COMMAND_CONCURRENCY) {
      this.active++;
      return;
    }
    if (this.waiting.length >= HOOK_COMMAND_QUEUE_MAX) throw new Error('too many hook commands waiting; dropped');
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error('timed out waiting for a free hook slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(go);
    });
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  /**
   * Runs one command line for `event`; resolves when it exited 0, rejects with the
   * reason otherwise. Aborting `signal` (the hook timeout) kills it.
   */
  async run(line: string, hook: HookCommandName, event: HookEvent, signal: AbortSignal): Promise<void> {
    const [file, ...args] = splitShellWords(line);
    if (!file) throw new Error('empty hook command');
    await this.acquire(signal);
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(file, args, {
          env: { ...process.env, TSHPOOL_HOOK: hook, [ENV_SESSION_NAME]: event.sessionName },
          stdio: ['pipe', 'pipe', 'pipe'],
          signal,
          killSignal: 'SIGKILL',
          detached: false,
        });
        let output = '';
        const collect = (chunk: Buffer): void => {
          if (output.length < HOOK_OUTPUT_MAX_BYTES) output += chunk.toString('utf8');
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.stdin.on('error', () => undefined); // the command may not read its stdin
        child.stdin.end(`${JSON.stringify(event)}\n`);
        child.once('error', (err) => reject(new Error(`${line}: ${err.message}`)));
        child.once('close', (code, sig) => {
          const text = output.trimEnd();
          if (text) this.log.info('hook command output', { hook, session: event.sessionName, command: line, output: text.slice(0, HOOK_OUTPUT_MAX_BYTES) });
          if (code === 0) resolve();
          else reject(new Error(`${line}: ${sig ? `killed by ${sig}` : `exited with status ${code}`}`));
        });
      });
    } finally {
      this.release();
    }
  }
}
