/**
 * One persistent session: a pty running a shell, the spool that remembers its
 * screen, its TTL timer, the client attached to it (at most one) and its
 * read-only viewers. The session owns all of these and releases them in dispose().
 *
 * The pty is read continuously, whatever the clients do: output goes to the
 * spool and to each client's link, which drops rather than queues when its client
 * falls behind (client-link.ts). Nothing a client does can block the shell.
 */
import * as pty from 'node-pty';
import { KILL_GRACE_MS } from '../consts.js';
import type { EventReason, SessionEvent, SessionEventType } from '../protocol/events.js';
import type { SessionInfo } from '../protocol/messages.js';
import type { CaptureOptions, SnapshotOptions, Spool } from '../restore/spool.js';
import type { ClientLink } from './client-link.js';
import { sizeNotice, type Size } from './size-notice.js';
import type { Logger } from './log.js';
import type { SessionDir } from './session-dir.js';
import type { SpawnSpec } from './shell-env.js';
import { installWriteBackoff } from './pty-write-backoff.js';
import { installExitDrain } from './pty-exit-drain.js';
import type { DetachedTurns, TurnTaker } from './detached-turns.js';

/** setTimeout's limit is 2^31-1 ms (~24.8 days); longer TTLs are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The redraw nudge: the pty is one row smaller for this long, so full-screen programs repaint (shpool uses 50 ms too). */
const REDRAW_JIGGLE_MS = 50;
/** Terminals remembered per session for the history rule (the oldest is forgotten first). */
const MAX_TERMINALS_REMEMBERED = 32;
/** A snapshot that enters the alternate screen means a full-screen program is running. */
const ALT_SCREEN_ON = Buffer.from('\x1b[?1049h');

/** Newlines counted exactly per chunk; past that, estimated (see countLines). */
const EXACT_LINES_PER_CHUNK = 64;

/**
 * The newlines in a pty chunk, for the history rule. Exact up to
 * EXACT_LINES_PER_CHUNK; the rest of a denser chunk is estimated from the density
 * so far: a `yes` flood would otherwise cost one indexOf per 2 bytes. The count
 * only decides how many scrollback lines a returning terminal gets (at most what
 * is kept), so an estimate errs on the side of a few lines too many.
 */
function countLines(data: Buffer): number {
  let lines = 0;
  for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, i + 1)) {
    if (++lines === EXACT_LINES_PER_CHUNK) return lines + Math.ceil(((data.length - i - 1) * lines) / (i + 1));
  }
  return lines;
}

export interface SessionOptions {
  name: string;
  spec: SpawnSpec;
  cols: number;
  rows: number;
  ttlMs: number | null;
  /** Builds the spool; `reply` carries the emulator's answers to terminal queries. */
  makeSpool: (size: { cols: number; rows: number }, reply: (data: Buffer) => void) => Spool;
  /** The session's private directory (agent symlink, forward.env). */
  dir: SessionDir;
  log: Logger;
  /** Per-session hook commands (`attach --hook`), hook name → command lines. */
  hookCommands: Record<string, string[]>;
  /** Lifecycle events, for hooks and the event stream (lifecycle.ts). */
  onEvent: (event: SessionEventFields, session: Session) => void;
  /** Called once when the shell is gone, before shell_disconnect is emitted. */
  onEnded: (session: Session) => void;
  /** Shared by the daemon's sessions: while detached, a flooding session takes turns (detached-turns.ts). */
  turns: DetachedTurns;
}

/** An event as the session reports it; the dispatcher numbers it. */
export type SessionEventFields = Omit<SessionEvent, 'seq' | 'sessionName'>;

export class Session implements TurnTaker {
  readonly name: string;
  private readonly commands: Record<string, string[]>;
  readonly dir: SessionDir;
  readonly startedAt = Date.now();
  lastConnectedAt: number | null = null;
  lastDisconnectedAt: number | null = null;
  client: ClientLink | null = null;
  readonly viewers = new Set<ClientLink>();

  private readonly pty: pty.IPty;
  private readonly spool: Spool;
  private readonly log: Logger;
  private readonly cmdline: string;
  private cols: number;
  private rows: number;
  private ttlTimer: NodeJS.Timeout | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private jiggleTimer: NodeJS.Timeout | null = null;
  /** Why the session is ending, once a kill or TTL started it; otherwise the shell exited by itself. */
  private endReason: EventReason | null = null;
  private ended = false;
  /** The program exited and its remaining output is being read: nothing may pause the pty now. */
  private exiting = false;
  /** The attached client's terminal is behind (client-link.ts). */
  private clientHold = false;
  /** Detached and flooding while another detached session has the turn (detached-turns.ts). */
  private turnHold = false;
  private readonly endWaiters: (() => void)[] = [];
  /** Lines (newlines) the program printed so far: what a terminal missed while away. */
  private outputLines = 0;
  /**
   * Terminals that were shown this session (TerminalId), with outputLines when they
   * left it (null while one shows it). See historyFor().
   */
  private readonly shownTo = new Map<string, number | null>();

  constructor(private readonly opts: SessionOptions) {
    this.name = opts.name;
    this.commands = { ...opts.hookCommands };
    this.dir = opts.dir;
    this.log = opts.log;
    this.cmdline = opts.spec.cmdline;
    this.cols = opts.cols;
    this.rows = opts.rows;
    // The emulator answers queries (DA, cursor position) only while no client is
    // attached: an attached terminal answers for itself, and twice would be wrong.
    this.spool = opts.makeSpool({ cols: opts.cols, rows: opts.rows }, (reply) => {
      if (!this.client && !this.ended) this.pty.write(reply as unknown as string);
    });
    try {
      this.pty = pty.spawn(opts.spec.file, opts.spec.args, {
        name: opts.spec.env.TERM ?? 'xterm-256color',
        cols: opts.cols,
        rows: opts.rows,
        cwd: opts.spec.cwd,
        env: opts.spec.env,
        encoding: null,
      } as pty.IPtyForkOptions);
    } catch (err) {
      // No pty (out of fds or ptys): nothing else was started but the spool.
      this.spool.dispose();
      throw err;
    }
    if (!installWriteBackoff(this.pty)) this.log.debug('node-pty internals changed; input retries are upstream\'s', { session: this.name });
    const drains = installExitDrain(this.pty, () => {
      this.exiting = true;
      this.applyHolds();
    });
    if (!drains) this.log.debug('node-pty internals changed; an exited program\'s output is read for 200 ms only', { session: this.name });
    // With encoding: null node-pty hands out Buffers; its typings still say string.
    this.pty.onData((data) => this.onOutput(data as unknown as Buffer));
    this.pty.onExit(({ exitCode, signal }) => this.onExit(exitCode, signal ?? 0));
    if (opts.ttlMs !== null) this.armTtl(opts.ttlMs);
  }

  /** Per-session hook commands (`attach --hook`). */
  get hookCommands(): Readonly<Record<string, readonly string[]>> {
    return this.commands;
  }

  /** `attach --hook` on an existing session: its commands are added (each line once). */
  addHookCommands(hooks: Record<string, string[]>): void {
    for (const [name, lines] of Object.entries(hooks)) {
      const have = (this.commands[name] ??= []);
      for (const line of lines) if (!have.includes(line)) have.push(line);
    }
  }

  get pid(): number {
    return this.pty.pid;
  }

  info(): SessionInfo {
    return {
      name: this.name,
      status: this.client ? 'attached' : 'disconnected',
      started_at_unix_ms: this.startedAt,
      last_connected_at_unix_ms: this.lastConnectedAt,
      last_disconnected_at_unix_ms: this.lastDisconnectedAt,
      pid: this.pty.pid,
      client_pid: this.client?.pid ?? null,
      cmd: this.cmdline,
      viewers: this.viewers.size,
    };
  }

  private event(type: SessionEventType, extra: Partial<SessionEventFields> = {}): void {
    this.opts.onEvent({ type, session: this.name, at: Date.now(), shellPid: this.pty.pid, ...extra }, this);
  }

  /** A fresh session was created for `clientPid`. */
  announceCreated(clientPid: number): void {
    this.event('session.created', { clientPid });
  }

  /** A client was refused because another one is attached. */
  announceBusy(clientPid: number): void {
    this.event('session.busy', { clientPid });
  }

  /**
   * Binds `link` as the attached client: sizes the pty to it, repaints, then streams.
   * The caller has already displaced any previous client.
   */
  attach(link: ClientLink, cols: number, rows: number, reattach: boolean, terminal: string | null): void {
    this.client = link;
    this.opts.turns.leave(this);
    this.lastConnectedAt = Date.now();
    const resized = this.resize(cols, rows);
    link.setPacer((hold) => this.holdOutput(link, hold));
    link.socket.once('close', () => {
      if (this.client === link) this.dropClient('hangup');
    });
    void link.restore(null, this.historyFor(terminal, link)).then((snapshot) => {
      // A size change already made full-screen programs redraw; otherwise nudge them.
      if (reattach && !resized && (snapshot === null || snapshot.includes(ALT_SCREEN_ON))) this.jiggle();
    });
    this.event('session.attached', { clientPid: link.pid, ...(reattach ? {} : { created: true }) });
  }

  /** Adds a read-only viewer: it gets the restored screen (and a notice when its terminal is smaller), then live output. */
  addViewer(link: ClientLink, terminal: string | null, size: Size): void {
    this.viewers.add(link);
    this.opts.turns.leave(this);
    link.socket.once('close', () => this.dropViewer(link, 'hangup'));
    const notice = sizeNotice({ cols: this.cols, rows: this.rows }, size);
    void link.restore(null, this.historyFor(terminal, link)).then(() => {
      if (notice) link.sendOutput(notice);
    });
    this.event('session.viewer_joined', { clientPid: link.pid });
  }

  /** A viewer left (`reason` detach: it asked to; hangup: it vanished; else the session ended). */
  dropViewer(link: ClientLink, reason: EventReason): void {
    if (!this.viewers.delete(link)) return;
    this.event('session.viewer_left', { clientPid: link.pid, reason });
  }

  /**
   * The history rule: a terminal this session was shown in already has its history
   * in its own scrollback, so it gets the screen plus the lines printed since it
   * left (at most that many lines of scrollback); a terminal new to the session gets
   * all the scrollback kept. Remembers `terminal` as shown from now on.
   */
  private historyFor(terminal: string | null, link: ClientLink): SnapshotOptions | undefined {
    if (terminal === null) return undefined;
    const leftAt = this.shownTo.get(terminal);
    this.shownTo.delete(terminal);
    this.shownTo.set(terminal, null);
    if (this.shownTo.size > MAX_TERMINALS_REMEMBERED) this.shownTo.delete(this.shownTo.keys().next().value!);
    link.socket.once('close', () => {
      if (this.shownTo.has(terminal)) this.shownTo.set(terminal, this.outputLines);
    });
    if (leftAt === undefined) return undefined;
    // Still shown there (another client in the same terminal): nothing was missed.
    return { scrollbackLines: leftAt === null ? 0 : this.outputLines - leftAt };
  }

  /** Detaches the current client (if any), telling it why. Returns whether one was attached. */
  detachClient(reason: EventReason): boolean {
    const link = this.client;
    if (!link) return false;
    link.end({ type: 'detached', reason });
    this.dropClient(reason);
    return true;
  }

  /** Stops (or restarts) reading the program's output while the attached client's terminal catches up. */
  private holdOutput(link: ClientLink, hold: boolean): void {
    if (this.client !== link) return;
    this.clientHold = hold;
    this.applyHolds();
  }

  setTurnHold(hold: boolean): void {
    this.turnHold = hold;
    this.applyHolds();
  }

  /** Reads the pty unless a hold applies; an exited program's output is always read to its end. */
  private applyHolds(): void {
    if (this.ended) return;
    if (!this.exiting && (this.clientHold || this.turnHold)) this.pty.pause();
    else this.pty.resume();
  }

  private dropClient(reason: EventReason): void {
    const link = this.client;
    if (!link) return;
    this.client = null;
    this.clientHold = false;
    this.applyHolds();
    this.lastDisconnectedAt = Date.now();
    this.event('session.detached', { clientPid: link.pid, reason });
  }

  /** Bytes that repaint the session on a blank terminal (see Spool). */
  snapshot(options?: SnapshotOptions): Promise<Buffer | null> {
    // After the shell ended the spool is released; nothing is left to repaint.
    return this.ended ? Promise.resolve(null) : this.spool.snapshot(options);
  }

  capture(options: CaptureOptions): Promise<string> {
    return this.spool.capture(options);
  }

  write(data: Buffer | string): void {
    if (!this.ended) this.pty.write(data as string);
  }

  /**
   * Input written but not yet taken by the pty (node-pty queues what the kernel
   * refuses). Read from node-pty's write queue; 0 if a node-pty upgrade renames it.
   */
  pendingInputBytes(): number {
    const queue = (this.pty as unknown as { _writeStream?: { _writeQueue?: { buffer: Buffer; offset: number }[] } })._writeStream?._writeQueue;
    if (!Array.isArray(queue)) return 0;
    let bytes = 0;
    for (const task of queue) bytes += task.buffer.length - task.offset;
    return bytes;
  }

  /** Resizes pty and spool; returns whether the size changed. */
  resize(cols: number, rows: number): boolean {
    if (this.ended || (cols === this.cols && rows === this.rows)) return false;
    this.cols = cols;
    this.rows = rows;
    this.resizePty(cols, rows);
    this.spool.resize(cols, rows);
    return true;
  }

  private resizePty(cols: number, rows: number): void {
    try {
      this.pty.resize(cols, rows);
    } catch (err) {
      this.log.debug('resize failed', { session: this.name, error: err as Error });
    }
  }

  /** Makes full-screen programs redraw: a brief size change of the pty only (the spool keeps its size). */
  private jiggle(): void {
    if (this.ended || this.jiggleTimer) return;
    if (this.rows > 1) this.resizePty(this.cols, this.rows - 1);
    else this.resizePty(this.cols > 1 ? this.cols - 1 : this.cols + 1, this.rows);
    this.jiggleTimer = setTimeout(() => {
      this.jiggleTimer = null;
      if (!this.ended) this.resizePty(this.cols, this.rows);
    }, REDRAW_JIGGLE_MS);
  }

  private onOutput(data: Buffer): void {
    this.outputLines += countLines(data);
    this.spool.write(data);
    if (this.client) this.client.sendOutput(data);
    else if (this.viewers.size === 0) this.opts.turns.onOutput(this, data.length);
    for (const viewer of this.viewers) viewer.sendOutput(data);
  }

  private armTtl(ms: number): void {
    this.ttlTimer = setTimeout(
      () => {
        this.ttlTimer = null;
        if (ms > MAX_TIMER_MS) this.armTtl(ms - MAX_TIMER_MS);
        else {
          this.log.info('session TTL expired', { session: this.name });
          void this.kill('ttl');
        }
      },
      Math.min(ms, MAX_TIMER_MS),
    );
  }

  /**
   * Hangs up the session's process group, then SIGKILLs whatever is left after
   * KILL_GRACE_MS. Resolves when the shell is gone.
   */
  kill(reason: 'kill' | 'ttl' | 'shutdown'): Promise<void> {
    if (!this.ended) {
      this.endReason ??= reason;
      this.signalGroup('SIGHUP');
      if (!this.killTimer) {
        this.killTimer = setTimeout(() => {
          this.killTimer = null;
          // Anything still alive in the group (a shell that ignores SIGHUP, a nohup'd child) goes now.
          if (this.signalGroup('SIGKILL')) this.log.info('processes left after SIGHUP; sent SIGKILL', { session: this.name });
        }, KILL_GRACE_MS);
      }
    }
    return this.whenEnded();
  }

  /** Sends `signal` to the session's process group (and the shell itself); false when nothing was there. */
  private signalGroup(signal: NodeJS.Signals): boolean {
    let delivered = false;
    for (const target of [-this.pty.pid, this.pty.pid]) {
      try {
        process.kill(target, signal);
        delivered = true;
      } catch {
        // ESRCH: already gone.
      }
    }
    return delivered;
  }

  whenEnded(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((resolve) => this.endWaiters.push(resolve));
  }

  private onExit(exitCode: number, signal: number): void {
    if (this.ended) return;
    this.ended = true;
    const reason: EventReason = this.endReason ?? 'exit';
    this.log.info('session ended', { session: this.name, exitCode, signal, reason });
    const link = this.client;
    if (link) {
      link.end({ type: 'exit', exitCode, signal: signal || null });
      this.dropClient(reason);
    }
    for (const viewer of [...this.viewers]) {
      viewer.end({ type: 'exit', exitCode, signal: signal || null });
      this.dropViewer(viewer, reason);
    }
    this.opts.turns.leave(this);
    this.opts.onEnded(this);
    this.event('session.removed', { reason, exitCode, ...(signal ? { signal } : {}) });
    for (const resolve of this.endWaiters.splice(0)) resolve();
    this.dispose();
  }

  /** Releases the spool and timers; the pty is released by node-pty once the shell exited. */
  dispose(): void {
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    if (this.jiggleTimer) clearTimeout(this.jiggleTimer);
    this.ttlTimer = null;
    this.jiggleTimer = null;
    this.spool.dispose();
  }
}
