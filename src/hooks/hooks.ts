/**
 * The Hooks interface wrapper programs implement, the events they receive, and
 * the one door every hook call goes through (invokeHook).
 */

/** Why a client left or a session ended. */
export type HookReason = 'detach' | 'hangup' | 'force' | 'kill' | 'ttl' | 'exit';

export type HookEventType = 'new_session' | 'reattach' | 'busy' | 'client_disconnect' | 'shell_disconnect';

/** What happened, passed to every hook. Fields that do not apply are absent. */
export interface HookEvent {
  type: HookEventType;
  sessionName: string;
  /** When it happened, ms since the Unix epoch. */
  at: number;
  /** The session's shell (or --cmd) process. */
  shellPid?: number;
  /** The client process concerned (attaching, refused or leaving). */
  clientPid?: number;
  /** shell_disconnect: the exit status when the shell exited normally. */
  exitCode?: number;
  /** shell_disconnect: the signal number that ended the shell, if one did. */
  signal?: number;
  /**
   * client_disconnect: detach (keybinding, `tshpool detach`, stdin EOF), hangup (the
   * client vanished: closed, killed, stalled), force (displaced by `attach -f`),
   * kill / ttl / exit (the session ended under it).
   * shell_disconnect: exit (the shell exited by itself), kill (`tshpool kill`, daemon
   * shutdown), ttl (its --ttl expired).
   */
  reason?: HookReason;
}

export interface Hooks {
  /**
   * A fresh session was created: its shell was spawned, just before the attaching
   * client (or `attach -b`) gets its reply.
   */
  onNewSession?(sessionName: string, event: HookEvent): void | Promise<void>;
  /** A client connected to an existing session (after `-f` displaced another, too). */
  onReattach?(sessionName: string, event: HookEvent): void | Promise<void>;
  /** A client was refused because another client is attached (and it did not use -f). */
  onBusy?(sessionName: string, event: HookEvent): void | Promise<void>;
  /**
   * The attached client went away — detach keybinding, `tshpool detach`, hangup,
   * kill -9 of the client, displaced by -f — or the session ended while attached.
   * Fires once the session already shows as disconnected; the shell lives on
   * unless the reason is kill, ttl or exit.
   */
  onClientDisconnect?(sessionName: string, event: HookEvent): void | Promise<void>;
  /**
   * The session ended: its shell exited (attached or not), it was killed, or its
   * TTL expired. Fires after the session was removed from the table.
   */
  onShellDisconnect?(sessionName: string, event: HookEvent): void | Promise<void>;
  /** Every event, after the specific method: one place for logging middleware. */
  onEvent?(event: HookEvent): void | Promise<void>;
}

export type HookName = Exclude<keyof Hooks, 'onEvent'>;

export const HOOK_FOR_EVENT: { [T in HookEventType]: HookName } = {
  new_session: 'onNewSession',
  reattach: 'onReattach',
  busy: 'onBusy',
  client_disconnect: 'onClientDisconnect',
  shell_disconnect: 'onShellDisconnect',
};

/** Per-hook counters reported by `tshpool status`. */
export interface HookStats {
  calls: number;
  errors: number;
  timeouts: number;
  lastError: string | null;
  totalDurationMs: number;
}

export interface HookLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** A hook call; `signal` is aborted when the call times out (commands use it to kill their process). */
export type HookCall = (signal: AbortSignal) => void | Promise<void>;

/**
 * Runs hook calls without ever blocking the caller: each call starts on the next
 * turn of the event loop (so the daemon's reply is already on its way), in event
 * order; a throw, a rejection or a promise that outlives `timeoutMs` is logged
 * and counted, never propagated. Calls are not serialized: a slow hook delays no
 * other hook and no later call of itself.
 */
export class HookRunner {
  readonly stats = new Map<string, HookStats>();
  private running = 0;

  constructor(
    private readonly hooks: Hooks,
    private readonly log: HookLog,
    public timeoutMs: number,
  ) {}

  /** Hook calls started and not yet settled or timed out. */
  get inFlight(): number {
    return this.running;
  }

  /** Fires the wrapper's specific hook for `event`, then its onEvent. Returns at once. */
  emit(event: HookEvent): void {
    const name = HOOK_FOR_EVENT[event.type];
    const specific = this.hooks[name];
    if (specific) this.invokeHook(name, () => specific.call(this.hooks, event.sessionName, event), event.sessionName);
    const all = this.hooks.onEvent;
    if (all) this.invokeHook('onEvent', () => all.call(this.hooks, event), event.sessionName);
  }

  /** The one door for hook calls. `label` names the hook in logs and stats. */
  invokeHook(label: string, call: HookCall, sessionName: string): void {
    const stats = this.statsFor(label);
    stats.calls++;
    this.running++;
    setImmediate(() => void this.runOne(label, call, sessionName, stats).finally(() => this.running--));
  }

  private async runOne(label: string, call: HookCall, sessionName: string, stats: HookStats): Promise<void> {
    const started = performance.now();
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = call(abort.signal);
      if (result && typeof (result as Promise<void>).then === 'function') {
        const timedOut = Symbol('timeout');
        const outcome = await Promise.race([
          result,
          new Promise<typeof timedOut>((resolve) => {
            timer = setTimeout(() => resolve(timedOut), this.timeoutMs);
            timer.unref();
          }),
        ]);
        if (outcome === timedOut) {
          abort.abort();
          stats.timeouts++;
          stats.lastError = `timed out after ${this.timeoutMs} ms`;
          this.log.warn('hook timed out', { hook: label, session: sessionName, timeoutMs: this.timeoutMs });
          // A late rejection must not become an unhandled rejection.
          (result as Promise<void>).catch(() => undefined);
        }
      }
    } catch (err) {
      stats.errors++;
      stats.lastError = err instanceof Error ? err.message : String(err);
      this.log.warn('hook failed', { hook: label, session: sessionName, error: stats.lastError });
    } finally {
      clearTimeout(timer);
      stats.totalDurationMs += performance.now() - started;
    }
  }

  private statsFor(label: string): HookStats {
    let s = this.stats.get(label);
    if (!s) {
      s = { calls: 0, errors: 0, timeouts: 0, lastError: null, totalDurationMs: 0 };
      this.stats.set(label, s);
    }
    return s;
  }
}
