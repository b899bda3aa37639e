/**
 * Accepts connections and dispatches their requests. Each connection is handled
 * on its own: a malformed frame, a silent peer or a slow reader ends that
 * connection only, with a logged reason.
 */
import type { Server, Socket } from 'node:net';
import {
  FIRST_REQUEST_TIMEOUT_MS,
  INPUT_DRAIN_POLL_MS,
  INPUT_FRAME_MAX_BYTES,
  INPUT_QUEUE_LIMIT_BYTES,
  MAX_CONNECTIONS,
  MAX_VIEWERS_PER_SESSION,
  PARTIAL_FRAME_TIMEOUT_MS,
  PAUSED_HANGUP_CHECK_MS,
  REPLY_LINGER_MS,
  SMALL_CONTROL_FRAME_BYTES,
} from '../consts.js';
import { FrameDecoder, FrameKind, MAX_CONTROL_FRAME_BYTES, ProtocolError, encodeControl, type Frame, type FrameLimits } from '../protocol/codec.js';
import {
  PROTOCOL_VERSION,
  assertNever,
  parseRequest,
  type DaemonStatus,
  type Reply,
  type Request,
  type SessionInfo,
  type TerminalHandoff,
} from '../protocol/messages.js';
import { VERSION } from '../version.js';
import { ClientLink } from './client-link.js';
import { peerCred, peerCredUnavailable, peerHungUp } from '../platform/peercred.js';
import type { EventHub } from './events.js';
import type { Config } from '../config/schema.js';
import type { Session } from './session.js';
import { isLogLevel, type Logger } from './log.js';
import { SpawnProblem, spawnFailureReason, type SessionTable } from './session-table.js';
import { openPeerTerminal } from './terminal-handoff.js';
import { listReplies } from './list-reply.js';
import { CaptureUnavailable } from '../restore/spool.js';
import { KeybindingMatcher, viewerLeaves } from '../util/keybindings.js';
import type { ReadStream } from 'node:tty';
import type { DecisionPoint, DecisionRequest } from '../protocol/events.js';
import type { LifecycleDispatcher, SessionCommands } from './lifecycle.js';

type AttachOrView = Extract<Request, { type: 'attach' | 'view' }>;

/** How long a `send` waits for a session's program to take earlier input before it is refused. */
const SEND_WAIT_MS = 10_000;
/** `send` requests that may wait for one session at once (each holds up to 64 KiB). */
const MAX_WAITING_SENDS = 16;

/** Resolves true once the session's waiting input is down to half the limit, false after `timeoutMs`. */
function inputRoom(session: Session, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      const room = session.pendingInputBytes() <= INPUT_QUEUE_LIMIT_BYTES / 2;
      if (room || Date.now() >= deadline) {
        clearInterval(poll);
        resolve(room);
      }
    }, INPUT_DRAIN_POLL_MS);
  });
}

/** Counters shared by all connections (owned by serve()). */
interface SharedLimits {
  /** `send` requests waiting for room, per session. */
  waitingSends: Map<Session, number>;
}

/** A terminal taken over from the client, with the matcher for its keybindings. */
interface TakenTerminal {
  stream: ReadStream;
  matcher: KeybindingMatcher;
}

type ConnState = 'hello' | 'command' | 'attached' | 'done';

export interface ServerDeps {
  log: Logger;
  config: () => Config;
  table: SessionTable;
  events: EventHub;
  status: () => DaemonStatus;
  lifecycle: LifecycleDispatcher;
  /** The wrapper whose hooks this daemon runs (its hook host's script), null for plain tshpool. */
  wrapper: string | null;
  /** Checks `attach --hook` names and command lines; returns a problem or null. */
  checkHookCommands: (hooks: Record<string, string[]>) => string | null;
}

/** ServerDeps plus what serve() keeps for all connections. */
type ConnectionDeps = ServerDeps & { limits: SharedLimits };

/**
 * Ends a connection that broke the protocol: the reason is sent, and what the
 * peer still pushes is read and dropped — so a peer busy writing does not fail
 * with EPIPE before it reads the reason — but only up to LINGER_DISCARD_BYTES
 * (a peer pushing 16 MiB frames costs little more than a small one).
 */
function endAfterWrite(socket: Socket, last: Buffer): void {
  endAndLinger(socket, last);
  let discarded = 0;
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_DISCARD_BYTES) socket.destroy();
  });
}
/** See endAfterWrite. */
const LINGER_DISCARD_BYTES = 1024 * 1024;

/**
 * Sends a last message and closes our side; whatever the peer still sends is
 * discarded, and a peer that never closes its side is cut off after REPLY_LINGER_MS
 * (otherwise it would hold a file descriptor forever).
 */
function endAndLinger(socket: Socket, last: Buffer): void {
  socket.on('error', () => undefined);
  socket.end(last);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), REPLY_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

class Connection {
  private state: ConnState = 'hello';
  private readonly decoder = new FrameDecoder();
  private firstRequestTimer: NodeJS.Timeout | null;
  private partialFrameTimer: NodeJS.Timeout | null = null;
  /** While input is held (holdInputUntilDrained): the timer that looks at the queue and the peer. */
  private inputHold: NodeJS.Timeout | null = null;
  /** Frames that arrived while an async request was in progress, handled in order afterwards. */
  private queued: Frame[] | null = null;
  private link: ClientLink | null = null;
  private sessionName: string | null = null;
  /** A read-only viewer: its input is ignored and it never resizes the pty. */
  private viewer = false;

  constructor(
    private readonly socket: Socket,
    private readonly deps: ConnectionDeps,
    /** The client's pid from SO_PEERCRED; null when unknown (then no terminal handoff). */
    private readonly peerPid: number | null,
  ) {
    this.firstRequestTimer = setTimeout(() => this.fail('no request within the first second'), FIRST_REQUEST_TIMEOUT_MS);
    this.firstRequestTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => deps.log.debug('connection error', { error: err }));
    socket.on('close', () => {
      this.clearFirstRequestTimer();
      if (this.partialFrameTimer) clearTimeout(this.partialFrameTimer);
      if (this.inputHold) clearInterval(this.inputHold);
    });
  }

  private clearFirstRequestTimer(): void {
    if (this.firstRequestTimer) clearTimeout(this.firstRequestTimer);
    this.firstRequestTimer = null;
  }

  /**
   * Encodes a reply; one that cannot be encoded (too large) is replaced by an
   * error saying so, and ends this connection, never the daemon.
   */
  private encode(reply: Reply): Buffer | null {
    try {
      return encodeControl(reply);
    } catch (err) {
      this.deps.log.warn('cannot send a reply; dropping the connection', { type: reply.type, error: err as Error });
      this.state = 'done';
      endAndLinger(this.socket, encodeControl({ type: 'error', reason: `the daemon's ${reply.type} reply is too large to send (${(err as Error).message})` }));
      return null;
    }
  }

  private reply(reply: Reply): void {
    const bytes = this.socket.destroyed ? null : this.encode(reply);
    if (bytes) this.socket.write(bytes);
  }

  private finish(reply: Reply): void {
    this.state = 'done';
    const bytes = this.socket.destroyed ? null : this.encode(reply);
    if (bytes) endAndLinger(this.socket, bytes);
  }

  /** Ends the connection because the peer broke the protocol. */
  private fail(reason: string): void {
    if (this.state === 'done' && this.socket.destroyed) return;
    this.deps.log.warn('dropping connection', { reason, session: this.sessionName ?? undefined });
    this.clearFirstRequestTimer();
    this.state = 'done';
    // An attached session sees the close and drops this client (hangup).
    if (!this.socket.destroyed) endAfterWrite(this.socket, encodeControl({ type: 'error', reason: `protocol error: ${reason}` }));
  }

  /** What this connection may send now (see FrameLimits): only what its state needs. */
  private limits(): FrameLimits {
    switch (this.state) {
      case 'hello':
        return { control: SMALL_CONTROL_FRAME_BYTES, data: 'refuse' };
      case 'command':
        // While a request is served (attach), what follows it in the same read waits in `queued`:
        // typed-ahead input is kept for after the attach (the socket is not read meanwhile).
        return { control: MAX_CONTROL_FRAME_BYTES, data: this.queued ? INPUT_FRAME_MAX_BYTES : 'refuse' };
      case 'attached':
        // A viewer's keystrokes are not used: skipped as they arrive, never buffered.
        return { control: SMALL_CONTROL_FRAME_BYTES, data: this.viewer ? 'discard' : INPUT_FRAME_MAX_BYTES };
      case 'done':
        // Whatever follows the last request in the same read is ignored (onFrame), not an error.
        return { control: MAX_CONTROL_FRAME_BYTES, data: 'discard' };
      default:
        return assertNever(this.state);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'done') return;
    try {
      this.decoder.limits = this.limits();
      this.decoder.pushEach(chunk, (frame) => {
        if (this.queued) this.queued.push(frame);
        else this.onFrameSafely(frame);
        this.decoder.limits = this.limits();
      });
    } catch (err) {
      this.fail(err instanceof ProtocolError ? err.message : String(err));
      return;
    }
    this.watchPartialFrame();
  }

  /** A frame that was begun must end: a peer cannot pin a buffer by stopping halfway. */
  private watchPartialFrame(): void {
    if (!this.decoder.midFrame || this.state === 'done') {
      if (this.partialFrameTimer) clearTimeout(this.partialFrameTimer);
      this.partialFrameTimer = null;
      return;
    }
    this.partialFrameTimer ??= setTimeout(() => {
      this.partialFrameTimer = null;
      // Not the peer's fault while we are the ones not reading (input backpressure).
      if (this.socket.isPaused()) return this.watchPartialFrame();
      if (this.decoder.midFrame) this.fail(`a frame did not complete within ${PARTIAL_FRAME_TIMEOUT_MS / 1000} s`);
    }, PARTIAL_FRAME_TIMEOUT_MS);
    this.partialFrameTimer.unref();
  }

  /** A bug in handling one request must end that connection, not the daemon and every session in it. */
  private onFrameSafely(frame: Frame): void {
    try {
      this.onFrame(frame);
    } catch (err) {
      this.deps.log.error('internal error while handling a request', { error: (err as Error).stack ?? String(err) });
      this.fail(`internal error: ${(err as Error).message}`);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'done') return;
    if (frame.kind === FrameKind.Data) {
      if (this.state !== 'attached') return this.fail('terminal data before attaching');
      this.input(frame.data);
      return;
    }
    let req: Request;
    try {
      req = parseRequest(frame.message);
    } catch (err) {
      return this.fail(err instanceof ProtocolError ? err.message : String(err));
    }
    if (this.state === 'hello') {
      if (req.type !== 'hello') return this.fail(`expected hello first, got ${req.type}`);
      if (req.protocol !== PROTOCOL_VERSION) {
        return this.finish({
          type: 'error',
          reason:
            `the running daemon (tshpool ${VERSION}, protocol ${PROTOCOL_VERSION}) cannot talk to this client ` +
            `(tshpool ${req.version}, protocol ${req.protocol}). Stop the old daemon (kill ${process.pid}) and run the command again.`,
        });
      }
      this.state = 'command';
      this.reply({ type: 'hello', protocol: PROTOCOL_VERSION, version: VERSION, pid: process.pid, wrapper: this.deps.wrapper });
      return;
    }
    this.clearFirstRequestTimer();
    this.dispatch(req);
  }

  /** The list reply, in as many frames as it takes (list-reply.ts). */
  private sendList(sessions: SessionInfo[]): void {
    const replies = listReplies(sessions);
    const last = replies.pop()!;
    for (const r of replies) this.reply(r);
    this.finish(last);
  }

  /** Keystrokes for the attached session (a viewer's are dropped). */
  private input(data: Buffer): void {
    const session = this.viewer ? undefined : this.deps.table.get(this.sessionName!);
    if (!session) return;
    session.write(data);
    if (session.pendingInputBytes() > INPUT_QUEUE_LIMIT_BYTES) this.holdInputUntilDrained(session);
  }

  /**
   * Stops reading this client (its terminal, when handed off) until the shell has
   * taken most of its input. An unread socket hides the peer's EOF behind the
   * input queued in front of it, so meanwhile the daemon also asks whether the
   * peer hung up: a killed client is dropped (and the session detached) at once.
   */
  private holdInputUntilDrained(session: Session): void {
    const source = this.link?.terminal ?? this.socket;
    if (this.inputHold) return;
    source.pause();
    let sinceHangupCheckMs = 0;
    this.inputHold = setInterval(() => {
      sinceHangupCheckMs += INPUT_DRAIN_POLL_MS;
      if (sinceHangupCheckMs >= PAUSED_HANGUP_CHECK_MS) {
        sinceHangupCheckMs = 0;
        if (this.peerGone()) {
          this.deps.log.info('the client hung up while its input was held', { session: this.sessionName ?? undefined, pid: this.peerPid ?? undefined });
          this.socket.destroy();
        }
      }
      if (this.socket.destroyed || source.destroyed || session.pendingInputBytes() <= INPUT_QUEUE_LIMIT_BYTES / 2) {
        if (this.inputHold) clearInterval(this.inputHold);
        this.inputHold = null;
        if (!source.destroyed) source.resume();
      }
    }, INPUT_DRAIN_POLL_MS);
  }

  /** Has the client gone, though we are not reading its socket? (poll; without the addon, its pid.) */
  private peerGone(): boolean {
    const hungUp = peerHungUp(this.socket);
    if (hungUp !== null) return hungUp;
    if (this.peerPid === null) return false;
    try {
      process.kill(this.peerPid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /** This client asked to leave (the detach keys, or `detach` from it). */
  private detachSelf(): void {
    if (this.viewer) {
      if (this.link) this.deps.table.get(this.sessionName!)?.dropViewer(this.link, 'detach');
      this.link?.end({ type: 'detached', reason: 'detach' });
      return;
    }
    const session = this.deps.table.get(this.sessionName!);
    if (session?.client === this.link) session.detachClient('detach');
    else this.finish({ type: 'detached', reason: 'detach' });
  }

  /**
   * Takes the client's terminal over when it asked to and we can; null means
   * relay (the client then streams as usual). Never fails the attach.
   */
  private async takeTerminal(handoff: TerminalHandoff | null): Promise<TakenTerminal | null> {
    if (!handoff || this.peerPid === null) return null;
    try {
      const matcher = new KeybindingMatcher(handoff.keybinding);
      return { stream: await openPeerTerminal(this.peerPid), matcher };
    } catch (err) {
      this.deps.log.info('terminal handoff refused; the client relays', { pid: this.peerPid, reason: (err as Error).message });
      return null;
    }
  }

  /** Reads the handed-off terminal: keybindings are matched here, the rest is the session's input. */
  private readTerminal(taken: TakenTerminal): void {
    taken.stream.on('data', (chunk: Buffer) => {
      if (this.state !== 'attached') return;
      const matched = taken.matcher.push(chunk);
      const { output, actions } = matched;
      if (this.viewer) {
        if (viewerLeaves(matched)) this.detachSelf();
        return;
      }
      if (output.length > 0) this.input(output);
      if (actions.includes('detach')) this.detachSelf();
    });
  }

  /** Runs an async request; frames that arrive meanwhile wait their turn. */
  private runAsync(work: Promise<void>): void {
    this.queued = [];
    // What arrives meanwhile stays in the kernel, not in `queued` (which stays small).
    this.socket.pause();
    void work
      .catch((err) => {
        this.deps.log.error('request failed', { error: err as Error });
        this.finish({ type: 'error', reason: `internal error: ${(err as Error).message}` });
      })
      .finally(() => {
        const frames = this.queued ?? [];
        this.queued = null;
        if (!this.socket.destroyed && !this.inputHold) this.socket.resume();
        for (const f of frames) {
          // onFrame may start another async request, which queues again.
          const queue = this.queued as Frame[] | null;
          if (queue) queue.push(f);
          else this.onFrameSafely(f);
        }
      });
  }

  private dispatch(req: Request): void {
    const { table, log } = this.deps;
    if (this.state === 'attached') {
      switch (req.type) {
        case 'resize':
          if (!this.viewer) table.get(this.sessionName!)?.resize(req.cols, req.rows);
          return;
        case 'detach':
          return this.detachSelf();
        case 'view':
        case 'attach':
        case 'hello':
        case 'kill':
        case 'list':
        case 'set-log-level':
        case 'events':
        case 'status':
        case 'capture':
        case 'send':
          return this.fail(`${req.type} is not allowed while attached`);
        default:
          return assertNever(req);
      }
    }
    // One command per connection.
    switch (req.type) {
      case 'hello':
        return this.fail('hello sent twice');
      case 'attach':
        return this.runAsync(this.attach(req));
      case 'view':
        return this.runAsync(this.view(req));
      case 'capture': {
        const session = table.get(req.name);
        if (!session) return this.finish({ type: 'error', reason: `not found: ${req.name}` });
        return this.runAsync(
          session.capture({ scrollback: req.scrollback, ansi: req.ansi }).then(
            (text) => this.finish({ type: 'capture', text }),
            (err: Error) => {
              if (!(err instanceof CaptureUnavailable)) throw err;
              this.finish({ type: 'error', reason: err.message });
            },
          ),
        );
      }
      case 'send': {
        const session = table.get(req.name);
        if (!session) return this.finish({ type: 'error', reason: `not found: ${req.name}` });
        return this.runAsync(this.send(session, req.data));
      }
      case 'resize':
        return this.fail('resize before attaching');
      case 'detach': {
        if (req.names.length === 0) return this.finish({ type: 'error', reason: 'no session to detach' });
        const notFound: string[] = [];
        const notAttached: string[] = [];
        for (const name of req.names) {
          const session = table.get(name);
          if (!session) notFound.push(name);
          else if (!session.detachClient('detach')) notAttached.push(name);
        }
        return this.finish({ type: 'detach-result', notFound, notAttached });
      }
      case 'kill': {
        if (req.names.length === 0) return this.finish({ type: 'error', reason: 'no session to kill' });
        const notFound = req.names.filter((n) => !table.get(n));
        const found = req.names.map((n) => table.get(n)).filter((s) => s !== undefined);
        return this.runAsync(
          Promise.all(found.map((s) => s.kill('kill'))).then(() => this.finish({ type: 'kill-result', notFound })),
        );
      }
      case 'list':
        return this.sendList(table.all().map((s) => s.info()));
      case 'events':
        this.state = 'done';
        this.deps.events.subscribe(this.socket, { session: req.session, types: req.types ?? null }, { history: req.history, since: req.since ?? null });
        return;
      case 'status':
        return this.finish({ type: 'status', status: this.deps.status() });
      case 'set-log-level':
        if (!isLogLevel(req.level)) {
          return this.finish({ type: 'error', reason: `unknown log level '${req.level}' (use error, warn, info, debug or trace)` });
        }
        log.level = req.level;
        log.info('log level changed', { level: req.level });
        return this.finish({ type: 'ok' });
      default:
        return assertNever(req);
    }
  }

  private async attach(req: Extract<Request, { type: 'attach' }>): Promise<void> {
    const taken = req.background ? null : await this.takeTerminal(req.handoff);
    try {
      await this.attachWith(req, taken);
    } finally {
      // Not bound to a link (refused, busy, gone): let the terminal go.
      if (taken && this.link?.terminal !== taken.stream) taken.stream.destroy();
    }
  }

  /** Asks the decision hooks; a refusal ends the connection with `refused` and returns false. */
  private async allowed(point: DecisionPoint, kind: DecisionRequest['kind'], req: AttachOrView, commands: SessionCommands): Promise<boolean> {
    const attach = req.type === 'attach' ? req : null;
    const request: DecisionRequest = {
      kind,
      session: req.name,
      clientPid: req.clientPid,
      cmd: point === 'create' ? (attach?.cmd ?? null) : null,
      dir: point === 'create' ? (attach?.dir ?? this.deps.table.homeDir) : null,
      ttlMs: attach?.ttlMs ?? null,
      cols: req.cols,
      rows: req.rows,
    };
    const decision = await this.deps.lifecycle.decide(point, request, commands);
    if (!('reject' in decision)) return true;
    this.finish({ type: 'refused', name: req.name, reason: decision.reject });
    return false;
  }

  private async attachWith(req: Extract<Request, { type: 'attach' }>, taken: TakenTerminal | null): Promise<void> {
    const { table, log } = this.deps;
    const hookProblem = this.deps.checkHookCommands(req.hooks);
    if (hookProblem) return this.finish({ type: 'error', reason: hookProblem });
    let session = table.get(req.name);
    let created = false;
    if (!session) {
      if (!(await this.allowed('create', 'create', req, req.hooks)) || this.socket.destroyed) return;
      let prepared;
      try {
        prepared = await table.prepare(req);
      } catch (err) {
        if (err instanceof SpawnProblem) return this.finish({ type: 'error', reason: err.message });
        throw err;
      }
      if (this.socket.destroyed) return;
      // Another client may have created it while we were checking.
      session = table.get(req.name);
      if (!session) {
        try {
          session = table.create(req.name, prepared, { cols: req.cols, rows: req.rows, ttlMs: req.ttlMs, hookCommands: req.hooks });
        } catch (err) {
          log.warn('cannot start a session', { session: req.name, error: err as Error });
          return this.finish({ type: 'error', reason: await spawnFailureReason(err as Error) });
        }
        created = true;
        session.announceCreated(req.clientPid);
      }
    }
    if (req.background) {
      if (!created) this.addHookCommands(session, req.hooks);
      if (created) this.refreshSessionEnv(session, req.env);
      return this.finish({ type: 'attached', name: req.name, created, shellPid: session.pid, handoff: false });
    }
    if (this.socket.destroyed) return;
    if (session.client && !req.force) {
      session.announceBusy(req.clientPid);
      return this.finish({ type: 'busy', name: req.name });
    }
    if (!created) {
      const kind = session.client ? 'force' : 'attach';
      if (!(await this.allowed('attach', kind, req, session.hookCommands)) || this.socket.destroyed) return;
      // While the hook decided, the session may have ended, or another client attached (then -f displaces it: ask about that).
      if (table.get(req.name) !== session) return this.finish({ type: 'error', reason: `session '${req.name}' ended while attaching` });
      if (kind === 'attach' && session.client && req.force && !(await this.allowed('attach', 'force', req, session.hookCommands))) return;
      this.addHookCommands(session, req.hooks);
    }
    if (session.client) {
      if (!req.force) {
        session.announceBusy(req.clientPid);
        return this.finish({ type: 'busy', name: req.name });
      }
      log.info('displacing attached client (-f)', { session: req.name, pid: session.client.pid });
      session.detachClient('force');
    }
    this.state = 'attached';
    this.sessionName = req.name;
    const s = session;
    this.link = new ClientLink(this.socket, req.clientPid, log, (o) => s.snapshot(o), taken?.stream);
    this.reply({ type: 'attached', name: req.name, created, shellPid: s.pid, handoff: taken !== null });
    s.attach(this.link, req.cols, req.rows, !created, req.terminal);
    if (taken) this.readTerminal(taken);
    this.refreshSessionEnv(s, req.env);
  }

  /** `attach --hook` on an existing session: added to it once the attach goes ahead. */
  private addHookCommands(session: Session, hooks: Record<string, string[]>): void {
    if (Object.keys(hooks).length === 0) return;
    session.addHookCommands(hooks);
    this.deps.log.info('added --hook commands to an existing session', { session: session.name, hooks: Object.keys(hooks).join(', ') });
  }

  /** Points the session's agent symlink at this client's agent and rewrites forward.env. */
  private refreshSessionEnv(session: Session, env: Record<string, string>): void {
    const config = this.deps.config();
    const work = [session.dir.writeForwardEnv(env)];
    if (!config.nosymlink_ssh_auth_sock) work.push(session.dir.pointAgent(env.SSH_AUTH_SOCK));
    void Promise.all(work).catch((err: Error) => this.deps.log.warn('cannot update the session directory', { session: session.name, error: err }));
  }

  /**
   * `send` under the same bound as typed input: while more than
   * INPUT_QUEUE_LIMIT_BYTES wait for the program, the request waits (its
   * connection unread); a program that reads nothing for SEND_WAIT_MS, or more
   * than MAX_WAITING_SENDS requests waiting for one session, is refused with the reason.
   */
  private async send(session: Session, data: string): Promise<void> {
    if (session.pendingInputBytes() > INPUT_QUEUE_LIMIT_BYTES && !(await this.waitForInputRoom(session))) {
      const kib = Math.round(session.pendingInputBytes() / 1024);
      return this.finish({
        type: 'error',
        reason: `session '${session.name}' is not reading its input (${kib} KiB sent earlier still wait for it); try again once its program reads`,
      });
    }
    session.write(data);
    this.finish({ type: 'ok' });
  }

  /** Waits (bounded in time and in waiting requests per session) until the session has room for input. */
  private async waitForInputRoom(session: Session): Promise<boolean> {
    const waiting = this.deps.limits.waitingSends;
    const count = waiting.get(session) ?? 0;
    if (count >= MAX_WAITING_SENDS) return false;
    waiting.set(session, count + 1);
    try {
      return await inputRoom(session, SEND_WAIT_MS);
    } finally {
      const left = (waiting.get(session) ?? 1) - 1;
      if (left > 0) waiting.set(session, left);
      else waiting.delete(session);
    }
  }

  private async view(req: Extract<Request, { type: 'view' }>): Promise<void> {
    const existing = this.deps.table.get(req.name);
    if (!existing) return this.finish({ type: 'error', reason: `no session named '${req.name}' (see 'tshpool list')` });
    if (existing.viewers.size >= MAX_VIEWERS_PER_SESSION) {
      return this.finish({ type: 'error', reason: `session '${req.name}' already has ${MAX_VIEWERS_PER_SESSION} viewers, the most it takes; close one first` });
    }
    if (!(await this.allowed('attach', 'view', req, existing.hookCommands))) return;
    const taken = await this.takeTerminal(req.handoff);
    const session = this.deps.table.get(req.name);
    if (!session || this.socket.destroyed) {
      taken?.stream.destroy();
      if (!session) this.finish({ type: 'error', reason: `no session named '${req.name}' (see 'tshpool list')` });
      return;
    }
    this.state = 'attached';
    this.sessionName = req.name;
    this.viewer = true;
    this.link = new ClientLink(this.socket, req.clientPid, this.deps.log, (o) => session.snapshot(o), taken?.stream);
    this.reply({ type: 'viewing', name: req.name, shellPid: session.pid, handoff: taken !== null });
    session.addViewer(this.link, req.terminal, { cols: req.cols, rows: req.rows });
    if (taken) this.readTerminal(taken);
  }
}

/**
 * Accepts connections from our own user only: the peer's uid is checked before
 * anything it sends is read (SO_PEERCRED). Others get `forbidden` and are closed.
 */
export function serve(server: Server, deps: ServerDeps): void {
  const uid = process.getuid!();
  const unavailable = peerCredUnavailable();
  if (unavailable) deps.log.warn(`${unavailable}; relying on the socket directory's permissions alone`);
  let open = 0;
  const connDeps: ConnectionDeps = { ...deps, limits: { waitingSends: new Map() } };
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
    let cred = null;
    try {
      cred = peerCred(socket);
    } catch (err) {
      deps.log.warn('cannot read peer credentials; refusing the connection', { error: err as Error });
      socket.destroy();
      return;
    }
    if (cred && cred.uid !== uid) {
      deps.log.warn('refused a connection from another user', { uid: cred.uid, pid: cred.pid });
      socket.on('error', () => undefined);
      endAndLinger(socket, encodeControl({ type: 'error', reason: `forbidden: this tshpool daemon belongs to uid ${uid}` }));
      return;
    }
    if (open > MAX_CONNECTIONS) {
      deps.log.warn('refused a connection: too many at once', { limit: MAX_CONNECTIONS, pid: cred?.pid });
      endAndLinger(socket, encodeControl({ type: 'error', reason: `the daemon has ${MAX_CONNECTIONS} connections open, the most it takes; close some clients and try again` }));
      return;
    }
    new Connection(socket, connDeps, cred?.pid ?? null);
  });
}
