/**
 * The one door for everything that reacts to a session's life: each event is
 * numbered and published on the event stream, handed to the wrapper's hook host
 * and to the hook commands; each decision (before a session is created or
 * attached) is asked of the hook host's decision hook and the before_* commands.
 * Every outcome is logged and counted here, and nothing here is awaited on a
 * session's path except a decision, which has its own deadline.
 */
import type { Config } from '../config/schema.js';
import { CommandRunner, type CommandEnv, type CommandResult } from '../hooks/command-hooks.js';
import {
  DECISIONS,
  SESSION_EVENTS,
  type Decision,
  type DecisionPoint,
  type DecisionRequest,
  type HookCommandName,
  type SessionEvent,
} from '../protocol/events.js';
import type { DaemonStatus, DecisionCounters, HookCounters } from '../protocol/messages.js';
import type { EventHub } from './events.js';
import type { HookHost, HookReport } from './hook-host.js';
import type { Logger } from './log.js';

/** Beyond the decision timeout, how long the last answer may take to arrive before the deadline decides. */
const DECISION_DEADLINE_SLACK_MS = 500;

interface Stats {
  calls: number;
  errors: number;
  timeouts: number;
  dropped: number;
  lastError: string | null;
  totalDurationMs: number;
}

/** Per-session hook commands (`attach --hook`), hook name → command lines. */
export type SessionCommands = Readonly<Record<string, readonly string[]>>;

export class LifecycleDispatcher {
  private readonly stats = new Map<string, Stats>();
  private readonly commands = new CommandRunner();
  private readonly decisionCounters: DecisionCounters = { continued: 0, rejected: 0, failures: 0, lastFailure: null };

  constructor(
    private readonly deps: {
      log: Logger;
      config: () => Config;
      events: EventHub;
      /** The wrapper's hook host; null for plain tshpool. */
      host: HookHost | null;
    },
  ) {}

  /** Publishes an event and starts its hooks and commands; returns at once. */
  emit(event: Omit<SessionEvent, 'seq' | 'sessionName'>, sessionCommands: SessionCommands): void {
    const { type, session, ...rest } = event;
    const numbered = this.deps.events.publish({ type, session, sessionName: session, ...rest });
    this.deps.log.debug('event', { ...numbered });
    const { hooks } = this.deps.config();
    this.deps.host?.deliver(numbered, hooks.timeoutMs);
    // A new session's attach is announced as session.created; its commands ran there.
    if (numbered.type === 'session.attached' && numbered.created) return;
    const name = SESSION_EVENTS[numbered.type].command;
    const env: CommandEnv = {
      TSHPOOL_EVENT: numbered.type,
      TSHPOOL_SESSION_NAME: numbered.session,
      ...(numbered.reason ? { TSHPOOL_REASON: numbered.reason } : {}),
      ...(numbered.exitCode !== undefined ? { TSHPOOL_EXIT_CODE: String(numbered.exitCode) } : {}),
      ...(numbered.shellPid !== undefined ? { TSHPOOL_SHELL_PID: String(numbered.shellPid) } : {}),
      ...(numbered.clientPid !== undefined ? { TSHPOOL_CLIENT_PID: String(numbered.clientPid) } : {}),
    };
    for (const line of this.commandLines(name, sessionCommands)) {
      void this.commands.run(line, name, numbered, env, hooks.timeoutMs).then((r) => this.countCommand(`${name} command`, numbered.session, line, r));
    }
  }

  /**
   * Asks every decider for `point` at once; the first refusal wins. A decider that
   * fails, times out or cannot be asked counts as decision_failure says.
   */
  async decide(point: DecisionPoint, request: DecisionRequest, sessionCommands: SessionCommands): Promise<Decision> {
    const { hooks } = this.deps.config();
    const command = DECISIONS[point].command;
    const env = { TSHPOOL_EVENT: command, TSHPOOL_SESSION_NAME: request.session };
    const askers: Promise<Decision | { failure: string }>[] = this.commandLines(command, sessionCommands).map((line) =>
      this.commands.run(line, command, request, env, hooks.decisionTimeoutMs, { slot: false }).then((r) => commandDecision(line, r)),
    );
    const host = this.deps.host;
    if (host) askers.push(host.decide(point, request, hooks.decisionTimeoutMs).then((r) => ('failure' in r ? r : (r.decision ?? { continue: true }))));
    if (askers.length === 0) return { continue: true };
    // Whatever a decider does, the user waits at most the deadline (plus a little for the last answer to arrive).
    const deadline = new Promise<{ failure: string }>((resolve) => {
      const timer = setTimeout(() => resolve({ failure: `no answer within ${hooks.decisionTimeoutMs} ms` }), hooks.decisionTimeoutMs + DECISION_DEADLINE_SLACK_MS);
      timer.unref();
    });
    const bounded = askers.map((a) => Promise.race([a.catch((err: Error) => ({ failure: err.message })), deadline]));
    const refusal = await firstRefusal(bounded, (failure) => this.decisionFailed(point, request, failure));
    if (refusal) {
      this.decisionCounters.rejected++;
      this.deps.log.info('a decision hook refused', { decision: DECISIONS[point].hook, session: request.session, kind: request.kind, reason: refusal.reject });
      return refusal;
    }
    this.decisionCounters.continued++;
    return { continue: true };
  }

  status(): Pick<DaemonStatus, 'hooks' | 'hooksInFlight' | 'hookHost' | 'decisions' | 'events'> {
    const hooks: Record<string, HookCounters> = {};
    for (const [name, st] of this.stats) {
      hooks[name] = {
        calls: st.calls,
        errors: st.errors,
        timeouts: st.timeouts,
        dropped: st.dropped,
        lastError: st.lastError,
        meanDurationMs: st.calls ? Math.round((st.totalDurationMs / st.calls) * 100) / 100 : 0,
      };
    }
    const host = this.deps.host?.status() ?? null;
    return {
      hooks,
      hooksInFlight: this.commands.inFlight + (host ? host.queued + host.inFlight : 0),
      hookHost: host,
      decisions: { ...this.decisionCounters },
      events: this.deps.events.counters(),
    };
  }

  /**
   * At shutdown: lets the last hooks and commands (the sessions' session.removed)
   * finish within `graceMs`, then says what was cut short.
   */
  async drain(graceMs: number): Promise<void> {
    const end = Date.now() + graceMs;
    const host = this.deps.host;
    await Promise.all([host?.stop(graceMs), this.waitForCommands(end)]);
    const cut = this.commands.inFlight;
    if (cut > 0) this.deps.log.warn('shutdown: hook commands still running or waiting were abandoned', { commands: cut, graceMs });
  }

  private async waitForCommands(end: number): Promise<void> {
    while (this.commands.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  /** Counts and logs one hook call the host reported. */
  readonly onHostReport = (r: HookReport): void => {
    const st = this.statsFor(r.hook);
    // An escaped error belongs to a call already counted.
    if (!r.logged) st.calls++;
    st.totalDurationMs += r.durationMs;
    if (r.status === 'ok') return;
    if (r.status === 'timeout') {
      st.timeouts++;
      st.lastError = `timed out after ${this.deps.config().hooks.timeoutMs} ms`;
      this.deps.log.warn('hook timed out', { hook: r.hook, session: r.session ?? undefined, timeoutMs: this.deps.config().hooks.timeoutMs });
      return;
    }
    st.errors++;
    st.lastError = r.error?.message ?? 'failed';
    if (!r.logged) this.deps.log.warn('hook failed', { hook: r.hook, session: r.session ?? undefined, error: st.lastError, stack: r.error?.stack ?? undefined });
  };

  private commandLines(name: HookCommandName, sessionCommands: SessionCommands): readonly string[] {
    return [...(this.deps.config().hooks.commands[name] ?? []), ...(sessionCommands[name] ?? [])];
  }

  private countCommand(label: string, session: string, line: string, r: CommandResult): void {
    const st = this.statsFor(label);
    if (r.status === 'dropped') {
      st.dropped++;
      this.deps.log.warn('hook command dropped: too many were waiting for a free slot', { hook: label, session, command: line });
      return;
    }
    st.calls++;
    st.totalDurationMs += r.durationMs;
    if (r.output) this.deps.log.info('hook command output', { hook: label, session, command: line, output: r.output });
    if (r.status === 'timeout') {
      st.timeouts++;
      st.lastError = `${line}: timed out; its process group was killed`;
      this.deps.log.warn('hook command timed out; killed its process group', { hook: label, session, command: line });
    } else if (r.status === 'failed') {
      st.errors++;
      st.lastError = r.reason;
      this.deps.log.warn('hook command failed', { hook: label, session, error: r.reason });
    }
  }

  private decisionFailed(point: DecisionPoint, request: DecisionRequest, failure: string): Decision {
    const policy = this.deps.config().hooks.decisionFailure;
    this.decisionCounters.failures++;
    this.decisionCounters.lastFailure = failure;
    this.deps.log.warn('a decision could not be made; applying decision_failure', { decision: DECISIONS[point].hook, session: request.session, failure, policy });
    return policy === 'reject' ? { reject: `${failure} (decision_failure = "reject")` } : { continue: true };
  }

  private statsFor(label: string): Stats {
    let s = this.stats.get(label);
    if (!s) {
      s = { calls: 0, errors: 0, timeouts: 0, dropped: 0, lastError: null, totalDurationMs: 0 };
      this.stats.set(label, s);
    }
    return s;
  }
}

/** A before_* command's verdict: exit 0 goes on; any other exit refuses with its first line of output. */
function commandDecision(line: string, r: CommandResult): Decision | { failure: string } {
  switch (r.status) {
    case 'ok':
      return { continue: true };
    case 'failed': {
      // Only the command's own answer refuses; one that could not run or was killed failed to decide.
      if (r.exitCode === null) return { failure: r.reason };
      const first = (r.stdout.trim() || r.stderr.trim()).split('\n')[0]?.trim();
      return { reject: first || r.reason };
    }
    case 'timeout':
      return { failure: `${line}: timed out` };
    case 'dropped':
      return { failure: `${line}: too many hook commands waiting` };
  }
}

/** Resolves to the first refusal as soon as one arrives, or null when all went on. */
function firstRefusal(
  answers: Promise<Decision | { failure: string }>[],
  onFailure: (failure: string) => Decision,
): Promise<{ reject: string } | null> {
  return new Promise((resolve) => {
    let left = answers.length;
    for (const a of answers) {
      void a.then((answer) => {
        const d = 'failure' in answer ? onFailure(answer.failure) : answer;
        if ('reject' in d) resolve(d);
        else if (--left === 0) resolve(null);
      });
    }
  });
}
