/**
 * The daemon's side of tshpool-holder (native/holder.c): the holder forks the
 * shells, keeps a copy of each pty master and each uncollected exit status, and
 * outlives the daemon; a daemon connects, adopts what is held and spawns through it.
 *
 *   const holder = new HolderClient({ socketPath, logPath });
 *   const { sessions } = await holder.start();   // starts the holder if none runs
 *   const pty = await holder.spawn(key, { file, args, env, cwd }, { cols, rows });
 *   pty.onData(...); pty.onExit(...);            // a HeldPty: node-pty's IPty subset
 *   holder.on('superseded', ...)                 // another daemon took over
 *
 * Every HeldPty is owned by the caller once handed out: release() it (daemon
 * leaving, session kept) or dispose() it (session over) exactly once.
 */
import { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';
import { assertNever } from '../../protocol/messages.js';
import { nativeAddon, nativeAddonProblem, type NativeAddon } from '../../platform/native.js';
import { HeldPty, type HeldPtyExit, type HeldPtyOwner } from './held-pty.js';
import { closeReceivedFd, HolderConnectError, HolderConnection } from './holder-connection.js';
import { defaultHolderExecutable, HolderUnavailableError, launchHolder } from './holder-launch.js';
import { HOLDER_PROTOCOL_VERSION, type HolderReply } from './holder-protocol.js';

export { HolderUnavailableError } from './holder-launch.js';

/** From hello to the end of the held list: a holder answers in ms; 4096 sessions take well under this. */
export const HOLDER_HELLO_TIMEOUT_MS = 5000;
/** A spawn the holder has not answered by then is given up (a hung chdir into a dead mount, say). */
export const HOLDER_SPAWN_TIMEOUT_MS = 10_000;
/** Connect/launch rounds in start(): covers a holder that was just exiting idle, or a launch race. */
const START_ATTEMPTS = 3;
const U32_RANGE = 0x1_0000_0000;

export interface HolderClientOptions {
  /** The holder's socket (see holderSocketPath() in src/paths.ts). */
  socketPath: string;
  /** The holder's log file (one line per spawn, exit, adoption); none when undefined. */
  logPath?: string | undefined;
  /** The holder binary; build/Release/tshpool-holder by default. */
  executable?: string | undefined;
  /** The holder's idle exit in ms (no session, no daemon); its own default (10 s) when undefined. */
  idleExitMs?: number | undefined;
}

export interface HolderSpawnSpec {
  file: string;
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface PtySize {
  cols: number;
  rows: number;
}

/** A held session's program was reaped. */
export interface HolderExitEvent {
  key: string;
  pid: number;
  exitCode: number;
  signal: number;
}

/** A held session whose master could not be used by this daemon (it stays held until forget()). */
export interface UnusableSession {
  key: string;
  pid: number;
  reason: string;
}

/** What start() found at the holder. */
export interface HolderAdoption {
  holderPid: number;
  /** Every session the holder held, now driven by this daemon (exited ones report their status on onExit). */
  sessions: HeldPty[];
  unusable: UnusableSession[];
}

/** A spawn the holder could not do; `code` is the errno name (ENOENT for a missing shell or cwd). */
export class HolderSpawnError extends Error {
  override name = 'HolderSpawnError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface HolderClientEvents {
  /** A held session's program was reaped (its HeldPty reports it too, after its last output). */
  exited: [HolderExitEvent];
  /** A session the holder finished spawning after its requester left: adopted here. */
  adopted: [HeldPty];
  /** Another daemon connected to the holder; this connection ends next. HeldPtys stay usable for I/O but learn no exit status any more. */
  superseded: [];
  /** The connection to the holder ended without dispose() or superseded: the holder died or misbehaved. */
  lost: [reason: string];
}

interface PendingSpawn {
  resolve(pty: HeldPty): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type StartState = { adoption: HolderAdoption; resolve(a: HolderAdoption): void; reject(err: Error): void; timer: NodeJS.Timeout };

export class HolderClient extends EventEmitter<HolderClientEvents> {
  private conn: HolderConnection | null = null;
  private starting: StartState | null = null;
  private readonly ptys = new Map<string, HeldPty>();
  private readonly spawns = new Map<number, PendingSpawn>();
  private nextReqId = 1;
  private pid: number | null = null;
  private superseded = false;
  private disposed = false;
  private onShutdownEnd: (() => void) | null = null;
  /** The holder's ERROR message, when it refused this connection (a version mismatch, say). */
  private refusal: string | null = null;
  private readonly owner: HeldPtyOwner = {
    kill: (key, signal, group) => this.conn?.send({ type: 'kill', key, signal, group }),
    forget: (key) => this.forget(key),
    detach: (pty) => {
      if (this.ptys.get(pty.key) === pty) this.ptys.delete(pty.key);
    },
  };

  constructor(private readonly opts: HolderClientOptions) {
    super();
  }

  /** Why a holder cannot be used at all (no native addon), or null. A missing binary shows in start(). */
  static unavailable(): string | null {
    const problem = nativeAddonProblem();
    return problem ? `holder unavailable: ${problem}` : null;
  }

  /** Whether a connection to the holder exists: from connect (before the hello is answered) until its socket is closed. */
  get connected(): boolean {
    return this.conn !== null;
  }

  /** The holder's pid once connected. */
  get holderPid(): number | null {
    return this.pid;
  }

  /**
   * Connects (starting the holder when none serves the socket), says hello, and
   * adopts every held session. Rejects with HolderUnavailableError saying why.
   */
  async start(): Promise<HolderAdoption> {
    const addon = nativeAddon();
    if (!addon) throw new HolderUnavailableError(nativeAddonProblem() ?? 'native addon not loaded');
    if (this.conn || this.disposed) throw new Error('HolderClient.start() called twice');
    let lastError: Error | null = null;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      try {
        return await this.connectAndAdopt(addon);
      } catch (err) {
        lastError = err as Error;
        if (err instanceof HolderUnavailableError) throw err;
        const code = err instanceof HolderConnectError ? err.code : '';
        // No socket, or a stale one: nobody holds sessions there, start a holder.
        if (code === 'ENOENT' || code === 'ECONNREFUSED') await this.launch();
        else if (code === 'EPERM') break;
        // Anything else (the holder closed right after accepting: it was exiting idle) is worth another round.
      }
    }
    throw new HolderUnavailableError(`cannot connect to ${this.opts.socketPath}: ${lastError?.message ?? 'unknown error'}`, { cause: lastError });
  }

  /** Spawns a session's program on a new pty held by the holder. Rejects with HolderSpawnError. */
  spawn(key: string, spec: HolderSpawnSpec, size: PtySize): Promise<HeldPty> {
    const conn = this.conn;
    if (this.superseded) return Promise.reject(new Error('another daemon took over the holder: this one must not start sessions'));
    if (!conn?.isOpen || this.starting) return Promise.reject(new Error('holder not connected: call start() first'));
    if (this.ptys.has(key)) return Promise.reject(new HolderSpawnError(`session key ${key} is already in use`, 'EEXIST'));
    const reqId = this.nextReqId;
    this.nextReqId = (this.nextReqId + 1) % U32_RANGE || 1;
    const env = Object.entries(spec.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.spawns.delete(reqId);
        reject(new HolderSpawnError(`the holder did not start ${spec.file} within ${HOLDER_SPAWN_TIMEOUT_MS} ms`, 'ETIMEDOUT'));
      }, HOLDER_SPAWN_TIMEOUT_MS);
      this.spawns.set(reqId, { resolve, reject, timer });
      conn.send({ type: 'spawn', reqId, key, file: spec.file, argv: [spec.file, ...spec.args], env, cwd: spec.cwd, cols: size.cols, rows: size.rows });
    });
  }

  /** Tells the holder to drop a session: its master copy (the program gets SIGHUP if nobody else has one) and its status. */
  forget(key: string): void {
    this.conn?.send({ type: 'forget', key });
  }

  /** Signals a held session's program by key (for sessions this daemon has no HeldPty for). */
  kill(key: string, signal: number, group = false): void {
    this.conn?.send({ type: 'kill', key, signal, group });
  }

  /**
   * The daemon stops for good. The holder exits once it holds no session (dispose
   * or forget them first), or at once with `force`, hanging up every session.
   * Resolves when the holder has closed the connection.
   */
  shutdown(opts: { force?: boolean } = {}): Promise<void> {
    const conn = this.conn;
    if (!conn?.isOpen) return Promise.resolve();
    return new Promise((resolve) => {
      this.onShutdownEnd = resolve;
      conn.send({ type: 'shutdown', force: opts.force ?? false });
    });
  }

  /**
   * Disconnects. The holder keeps every session (the next daemon adopts them);
   * HeldPtys handed out stay the caller's to release() or dispose().
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.conn?.close('disposed');
  }

  private async launch(): Promise<void> {
    await launchHolder({
      executable: this.opts.executable ?? defaultHolderExecutable(),
      socketPath: this.opts.socketPath,
      logPath: this.opts.logPath,
      idleExitMs: this.opts.idleExitMs,
    });
  }

  private async connectAndAdopt(addon: NativeAddon): Promise<HolderAdoption> {
    const conn = await HolderConnection.connect(addon, this.opts.socketPath, {
      onReply: (reply) => this.onReply(reply),
      onEnd: (reason) => this.onEnd(conn, reason),
    });
    this.conn = conn;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => conn.close(`no reply to hello within ${HOLDER_HELLO_TIMEOUT_MS} ms`), HOLDER_HELLO_TIMEOUT_MS);
      this.starting = { adoption: { holderPid: conn.peerPid, sessions: [], unusable: [] }, resolve, reject, timer };
      conn.send({ type: 'hello', version: HOLDER_PROTOCOL_VERSION });
    });
  }

  /** Wraps a received master in a HeldPty, or closes it and says why it is unusable. */
  private adopt(key: string, pid: number, fd: number, status: HeldPtyExit | null): HeldPty | UnusableSession {
    const addon = nativeAddon()!;
    try {
      const pty = new HeldPty(key, pid, fd, this.owner, addon, status);
      this.ptys.set(key, pty);
      return pty;
    } catch (err) {
      closeReceivedFd(fd);
      return { key, pid, reason: (err as Error).message };
    }
  }

  private onReply(reply: HolderReply): void {
    switch (reply.type) {
      case 'welcome':
        if (this.starting) this.starting.adoption.holderPid = reply.holderPid;
        this.pid = reply.holderPid;
        return;
      case 'held':
        return this.onHeld(reply.key, reply.pid, reply.fd, reply.state === 'exited' ? { exitCode: reply.exitCode, signal: reply.signal, statusLost: false } : null);
      case 'endOfList':
        return this.finishStart();
      case 'spawned':
        return this.onSpawned(reply.reqId, reply.key, reply.pid, reply.fd);
      case 'spawnFailed':
        return this.onSpawnFailed(reply.reqId, reply.errno, reply.message);
      case 'exited':
        return this.onExited({ key: reply.key, pid: reply.pid, exitCode: reply.exitCode, signal: reply.signal });
      case 'superseded':
        this.superseded = true;
        this.emit('superseded');
        return;
      case 'error':
        this.refusal = reply.message;
        this.conn?.close(`the holder refused: ${reply.message}`);
        return;
      default:
        return assertNever(reply);
    }
  }

  private onHeld(key: string, pid: number, fd: number, status: HeldPtyExit | null): void {
    if (this.ptys.has(key)) {
      closeReceivedFd(fd); // already driven here (a duplicate would close the same session twice)
      return;
    }
    const result = this.adopt(key, pid, fd, status);
    if (this.starting) {
      if (result instanceof HeldPty) this.starting.adoption.sessions.push(result);
      else this.starting.adoption.unusable.push(result);
    } else if (result instanceof HeldPty) {
      this.emit('adopted', result);
    }
  }

  private finishStart(): void {
    const s = this.starting;
    if (!s) return;
    this.starting = null;
    clearTimeout(s.timer);
    s.resolve(s.adoption);
  }

  private onSpawned(reqId: number, key: string, pid: number, fd: number): void {
    const pending = this.spawns.get(reqId);
    this.spawns.delete(reqId);
    if (!pending) {
      // Its caller gave up (timeout): nobody wants this session.
      closeReceivedFd(fd);
      this.conn?.send({ type: 'kill', key, signal: 1, group: true });
      this.forget(key);
      return;
    }
    clearTimeout(pending.timer);
    const result = this.adopt(key, pid, fd, null);
    if (result instanceof HeldPty) pending.resolve(result);
    else pending.reject(new HolderSpawnError(`cannot use the new session's pty: ${result.reason}`, 'EBADF'));
  }

  private onSpawnFailed(reqId: number, errno: number, message: string): void {
    const pending = this.spawns.get(reqId);
    this.spawns.delete(reqId);
    if (!pending) return;
    clearTimeout(pending.timer);
    let code = 'EIO';
    try {
      code = getSystemErrorName(-errno);
    } catch {
      // an errno Node does not know: keep the generic code
    }
    pending.reject(new HolderSpawnError(`cannot start shell: ${code}: ${message}`, code));
  }

  private onExited(e: HolderExitEvent): void {
    const pty = this.ptys.get(e.key);
    if (pty && pty.pid === e.pid) pty.noteExit({ exitCode: e.exitCode, signal: e.signal, statusLost: false });
    this.emit('exited', e);
  }

  private onEnd(conn: HolderConnection, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    const starting = this.starting;
    this.starting = null;
    if (starting) {
      clearTimeout(starting.timer);
      for (const pty of starting.adoption.sessions) pty.release();
      // A refusal will not change on a retry; an early close (a holder exiting idle) may.
      if (this.refusal) starting.reject(new HolderUnavailableError(`the holder refused this daemon: ${this.refusal}`));
      else starting.reject(new HolderConnectError(`the holder closed the connection before listing its sessions: ${reason}`, 'ECONNRESET'));
    }
    for (const [, pending] of this.spawns) {
      clearTimeout(pending.timer);
      pending.reject(new HolderSpawnError(`the connection to the holder ended: ${reason}`, 'ECONNRESET'));
    }
    this.spawns.clear();
    const shutdownEnd = this.onShutdownEnd;
    this.onShutdownEnd = null;
    shutdownEnd?.();
    if (this.disposed || this.superseded || shutdownEnd || starting) return;
    // The holder died: nobody can collect these programs' statuses any more.
    for (const pty of [...this.ptys.values()]) pty.noteHolderLost();
    this.emit('lost', reason);
  }
}
