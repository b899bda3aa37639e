/**
 * Supervises the wrapper's hook host: the child process that runs the wrapper's
 * hooks (client/hook-host.ts), so that no code of the wrapper's runs in the
 * daemon. Events are sent to it in order and tracked until it reports them done;
 * decisions are asked with a deadline. When it dies — a crash, process.exit, an
 * out-of-memory abort — or stops answering (a blocked event loop), it is
 * restarted with backoff; events that arrive meanwhile wait in a bounded queue.
 * Nothing here ever waits on the host on a session's path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ENV_HOOK_HOST, parseFromHost, type FromHost, type HookHostSpec, type ToHost, type WireError } from '../protocol/hook-host.js';
import type { Decision, DecisionPoint, DecisionRequest, SessionEvent } from '../protocol/events.js';
import { DECISIONS } from '../protocol/events.js';
import { hookMethodsFor } from '../hooks/hooks.js';
import type { HookHostStatus } from '../protocol/messages.js';
import type { Logger } from './log.js';

/** A host that has not said `ready` by then is killed and restarted (tsx compiling a wrapper takes ~1 s). */
const HOST_READY_TIMEOUT_MS = 20_000;
/** Beyond the hook timeout, how long an event may stay unfinished before the host counts as wedged. */
const HOST_ANSWER_GRACE_MS = 5000;
/** Beyond the decision timeout, how long to wait for the host's late answer. */
const DECISION_GRACE_MS = 250;
/** Restart backoff: first delay, doubled per crash up to the cap; reset after a stable run. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 30_000;
const STABLE_RUN_MS = 30_000;
/** Events sent and not yet done; more wait in the queue, so a wedged host does not grow the daemon. */
const IN_FLIGHT_MAX = 256;
/** Events waiting for the host beyond this are dropped and counted. */
export const HOOK_HOST_QUEUE_MAX = 10_000;
/** After the channel is closed at shutdown, how long the host may take to exit before it is killed. */
const STOP_KILL_MS = 2000;

/** What the host reported about one hook call (or what the daemon concluded for it). */
export interface HookReport {
  hook: string;
  session: string | null;
  status: 'ok' | 'error' | 'timeout';
  error: WireError | null;
  durationMs: number;
  /** Already logged (an escaped error): count it only. */
  logged?: boolean;
}

export type DecisionResult = { decision: Decision | null } | { failure: string };

export interface HookHostOptions {
  spec: HookHostSpec;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** --max-old-space-size for the host; null = Node's default. */
  heapLimitMb: number | null;
  /** Every hook call's outcome, for the log and the counters. */
  onReport: (report: HookReport) => void;
}

interface InFlight {
  event: SessionEvent;
  timer: NodeJS.Timeout;
}

interface PendingDecision {
  resolve: (r: DecisionResult) => void;
  timer: NodeJS.Timeout;
  /** The hook asked and its deadline, for the failure's wording. */
  hook: string;
  timeoutMs: number;
}

export class HookHost {
  private child: ChildProcess | null = null;
  private ready = false;
  /** What the wrapper declared until the host says what it has. */
  private methods: Set<string>;
  private readonly queue: { event: SessionEvent; timeoutMs: number }[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly decisions = new Map<number, PendingDecision>();
  private readonly readyWaiters: ((ready: boolean) => void)[] = [];
  private nextDecisionId = 1;
  private readyTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = RESTART_MIN_MS;
  private startedAt = 0;
  private stopped = false;
  /** The cause the host gave for its coming exit (an uncaught exception). */
  private dyingCause: string | null = null;
  private counters = { restarts: 0, dropped: 0, escaped: 0, blocked: 0 };
  private lastCrash: { atUnixMs: number; cause: string } | null = null;

  constructor(private readonly opts: HookHostOptions) {
    this.methods = new Set(opts.spec.methods);
  }

  start(): void {
    if (this.stopped || this.child) return;
    const [node, ...rest] = this.opts.spec.command;
    const script = rest.pop()!;
    const heap = this.opts.heapLimitMb ? [`--max-old-space-size=${this.opts.heapLimitMb}`] : [];
    this.startedAt = Date.now();
    this.dyingCause = null;
    let child: ChildProcess;
    try {
      child = spawn(node!, [...rest, ...heap, script], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...this.opts.env, [ENV_HOOK_HOST]: '1' },
        serialization: 'json',
      });
    } catch (err) {
      // spawn throws at once for some errors (E2BIG, ENOMEM): a failed start like any other.
      this.lastCrash = { atUnixMs: Date.now(), cause: `cannot run the hook host: ${(err as Error).message}` };
      this.scheduleRestart(this.lastCrash.cause);
      return;
    }
    this.child = child;
    // Messages of a host that was replaced are not ours any more ('close' may come after 'exit').
    child.on('message', (raw: unknown) => {
      if (this.child !== child) return;
      const msg = parseFromHost(raw);
      if (msg) this.onMessage(msg);
      else this.opts.log.warn('ignored a malformed message from the hook host', { type: String((raw as { type?: unknown })?.type).slice(0, 40) });
    });
    child.once('error', (err) => this.onGone(child, `cannot run the hook host: ${err.message}`));
    // 'close', not 'exit': the IPC channel is drained by then, so its last messages (the cause of its end) were seen.
    child.once('close', (code, signal) => this.onGone(child, signal ? `killed by ${signal}` : `exited with status ${code}`));
    this.readyTimer = setTimeout(() => this.wedged(`it did not start serving within ${HOST_READY_TIMEOUT_MS / 1000} s`), HOST_READY_TIMEOUT_MS);
    this.opts.log.info('hook host started', { pid: child.pid, command: this.opts.spec.command.join(' ') });
  }

  /** Queues `event` for the hooks that handle it; never blocks, never throws. */
  deliver(event: SessionEvent, timeoutMs: number): void {
    if (this.stopped) return;
    if (hookMethodsFor(this.methods, event).length === 0) return;
    if (this.queue.length >= HOOK_HOST_QUEUE_MAX) {
      if (this.counters.dropped++ === 0 || this.counters.dropped % 1000 === 0) {
        this.opts.log.warn('hook host queue full; dropping events', { dropped: this.counters.dropped, seq: event.seq });
      }
      return;
    }
    this.queue.push({ event, timeoutMs });
    this.flush();
  }

  /** Asks the host's decision hook for `point`; resolves by the deadline whatever the host does. */
  async decide(point: DecisionPoint, request: DecisionRequest, timeoutMs: number): Promise<DecisionResult> {
    const deadline = Date.now() + timeoutMs;
    if (!this.methods.has(DECISIONS[point].hook)) return { decision: null };
    if (!this.ready && !(await this.waitReady(timeoutMs))) return { failure: this.downReason() };
    if (!this.methods.has(DECISIONS[point].hook)) return { decision: null };
    const id = this.nextDecisionId++;
    return new Promise((resolve) => {
      const left = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => {
        this.decisions.delete(id);
        resolve({ failure: `${DECISIONS[point].hook} did not answer within ${timeoutMs} ms` });
      }, left + DECISION_GRACE_MS);
      this.decisions.set(id, { resolve, timer, hook: DECISIONS[point].hook, timeoutMs });
      this.send({ type: 'decide', id, point, request, timeoutMs: left });
    });
  }

  status(): HookHostStatus {
    return {
      command: this.opts.spec.command,
      pid: this.child?.pid ?? null,
      state: this.stopped ? 'stopped' : this.ready ? 'running' : this.child || !this.lastCrash ? 'starting' : 'restarting',
      methods: [...this.methods],
      restarts: this.counters.restarts,
      lastCrash: this.lastCrash,
      queued: this.queue.length,
      inFlight: this.inFlight.size,
      dropped: this.counters.dropped,
      escapedErrors: this.counters.escaped,
      blockedReports: this.counters.blocked,
    };
  }

  /** Lets the host finish what it has (within `graceMs`), then ends it; what it could not finish is logged. */
  async stop(graceMs: number): Promise<void> {
    const end = Date.now() + graceMs;
    while (this.child && (this.inFlight.size > 0 || this.queue.length > 0) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.inFlight.size + this.queue.length > 0) {
      this.opts.log.warn('shutdown: hook host events not finished were abandoned', { running: this.inFlight.size, queued: this.queue.length, graceMs });
    }
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.readyTimer) clearTimeout(this.readyTimer);
    for (const f of this.inFlight.values()) clearTimeout(f.timer);
    const child = this.child;
    if (!child) return;
    // 'exit', not 'close': a child whose channel we disconnect ourselves never emits 'close'.
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
    child.disconnect?.();
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_MS);
    await exited;
    clearTimeout(killer);
  }

  private send(msg: ToHost): void {
    const child = this.child;
    if (!child?.connected) return;
    try {
      child.send(msg);
    } catch (err) {
      this.opts.log.warn('cannot send to the hook host', { error: err as Error });
    }
  }

  private flush(): void {
    while (this.ready && this.queue.length > 0 && this.inFlight.size < IN_FLIGHT_MAX) {
      const { event, timeoutMs } = this.queue.shift()!;
      if (hookMethodsFor(this.methods, event).length === 0) continue;
      const timer = setTimeout(
        () => this.wedged(`event ${event.seq} (${event.type}, session ${event.session}) was not done ${timeoutMs + HOST_ANSWER_GRACE_MS} ms after it was sent: its event loop is blocked`),
        timeoutMs + HOST_ANSWER_GRACE_MS,
      );
      this.inFlight.set(event.seq, { event, timer });
      this.send({ type: 'event', event, timeoutMs });
    }
  }

  private onMessage(msg: FromHost): void {
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.methods = new Set(msg.methods);
        if (this.readyTimer) clearTimeout(this.readyTimer);
        this.opts.log.info('hook host ready', { pid: this.child?.pid, hooks: msg.methods.join(', ') || '(none)' });
        for (const w of [...this.readyWaiters]) w(true);
        this.flush();
        return;
      case 'outcome':
        this.opts.onReport({ hook: msg.hook, session: msg.session, status: msg.status, error: msg.error, durationMs: msg.durationMs });
        return;
      case 'done': {
        const f = this.inFlight.get(msg.seq);
        if (f) clearTimeout(f.timer);
        this.inFlight.delete(msg.seq);
        this.flush();
        return;
      }
      case 'decision': {
        const d = this.decisions.get(msg.id);
        if (!d) return;
        clearTimeout(d.timer);
        this.decisions.delete(msg.id);
        if (msg.status === 'ok') d.resolve({ decision: msg.decision });
        else d.resolve({ failure: msg.status === 'timeout' ? `${d.hook} did not answer within ${d.timeoutMs} ms` : `the decision hook failed: ${msg.error?.message}` });
        return;
      }
      case 'escaped':
        this.onEscaped(msg);
        return;
      case 'log':
        this.opts.log.info(msg.message, msg.fields);
        return;
      case 'blocked':
        this.counters.blocked++;
        this.opts.log.warn('a hook blocked the hook host synchronously (sessions were not affected)', { hook: msg.hook, session: msg.session, ms: msg.ms });
        return;
      default:
        this.opts.log.warn('unknown message from the hook host', { type: (msg as { type?: unknown }).type });
    }
  }

  /** Logs an error that escaped a hook; one that ends the host becomes the cause of its exit. */
  private onEscaped(msg: Extract<FromHost, { type: 'escaped' }>): void {
    this.counters.escaped++;
    const hook = msg.hook ?? 'wrapper code';
    const what = {
      rejection: 'an unhandled rejection escaped a hook',
      exception: 'an uncaught exception escaped a hook; the hook host restarts',
      exit: 'a hook called process.exit; the hook host restarts',
    }[msg.kind];
    if (msg.kind === 'exception') this.dyingCause = `uncaught exception in ${hook}: ${msg.error.message}`;
    if (msg.kind === 'exit') this.dyingCause = `${hook} called ${msg.error.message}`;
    this.opts.log.error(what, { hook: msg.hook ?? 'unknown (outside any hook)', session: msg.session ?? undefined, error: msg.error.message, stack: msg.error.stack ?? undefined });
    this.opts.onReport({ hook: msg.hook ?? 'hook host', session: msg.session, status: 'error', error: msg.error, durationMs: 0, logged: true });
  }

  /** Resolves true when the host is ready within `timeoutMs`, false at the deadline or when it dies first. */
  private waitReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.stopped || (!this.child && this.lastCrash)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ready: boolean): void => {
        clearTimeout(timer);
        const i = this.readyWaiters.indexOf(done);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        resolve(ready);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.readyWaiters.push(done);
    });
  }

  private downReason(): string {
    return this.lastCrash ? `the hook host is down (${this.lastCrash.cause}); it restarts shortly` : 'the hook host is not ready';
  }

  /** The host stopped answering: kill it; onGone restarts it. */
  private wedged(why: string): void {
    const child = this.child;
    if (!child) return;
    this.dyingCause = `not answering: ${why}`;
    this.opts.log.error('hook host not answering; killing it (it restarts)', { pid: child.pid, reason: why });
    child.kill('SIGKILL');
  }

  private onGone(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = null;
    this.ready = false;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    if (this.stopped) return;
    const cause = this.dyingCause ? `${this.dyingCause} (${how})` : how;
    this.lastCrash = { atUnixMs: Date.now(), cause };
    // What it was running is lost with it: reported once each, never re-sent (it could crash the next host too).
    for (const { event, timer } of this.inFlight.values()) {
      clearTimeout(timer);
      this.opts.onReport({ hook: 'hook host', session: event.session, status: 'error', error: { message: `the hook host died while running the hooks for ${event.type}: ${cause}`, stack: null }, durationMs: 0 });
    }
    this.inFlight.clear();
    for (const d of this.decisions.values()) {
      clearTimeout(d.timer);
      d.resolve({ failure: `the hook host died: ${cause}` });
    }
    this.decisions.clear();
    for (const w of [...this.readyWaiters]) w(false);
    if (Date.now() - this.startedAt >= STABLE_RUN_MS) this.backoffMs = RESTART_MIN_MS;
    this.scheduleRestart(cause);
  }

  private scheduleRestart(cause: string): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RESTART_MAX_MS);
    this.counters.restarts++;
    this.opts.log.error('hook host died; restarting it (sessions are not affected)', { cause, restartInMs: delay, queued: this.queue.length });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.start();
    }, delay);
  }
}
