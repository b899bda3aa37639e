/**
 * A session's pty when tshpool-holder holds it: the daemon got the master fd over
 * the holder's socket (a spawn, or an adoption after a daemon restart or crash)
 * and drives it here. It offers the part of node-pty's IPty the daemon uses (pid,
 * onData, onExit, write, resize, pause/resume, kill), so a session can take either.
 *
 * - Reading: a tty.ReadStream on the master, as node-pty does; the exit drain of
 *   pty-exit-drain.ts reads what the kernel still holds when libuv takes a hangup
 *   for the end of the stream.
 * - Writing: never blocks the event loop and never uses the thread pool. A write
 *   goes straight to the non-blocking fd; what the kernel does not take waits in a
 *   bounded queue retried with backoff. (A blocking or thread-pool write to a
 *   program that stopped reading froze a whole daemon in other projects; libuv's
 *   own tty writes spin on EAGAIN for a pty master, which it cannot reopen.)
 *   Writes are synchronous, so no write is ever in flight when the fd is closed.
 * - Exit: the holder reports the status, the stream reports the end of the data;
 *   onExit fires once both are known, so output a program left before exiting is
 *   delivered first (up to EXIT_DRAIN_TIMEOUT_MS, for a background job that keeps
 *   the terminal open).
 * - The fd is closed exactly once: by release() (daemon going away, session kept),
 *   dispose() (session over), or the end of the stream.
 */
import { writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import tty from 'node:tty';
import type { NativeAddon } from '../../platform/native.js';
import { EXIT_DRAIN_TIMEOUT_MS, readHangupTail, type PtySocket } from '../pty-exit-drain.js';

/** Input waiting for a program that does not read beyond this is refused (write() returns false). */
export const MAX_PENDING_INPUT_BYTES = 8 * 1024 * 1024;
const WRITE_RETRY_START_MS = 1;
const WRITE_RETRY_MAX_MS = 50;

/** How a held session's program ended. */
export interface HeldPtyExit {
  /** 0 when a signal ended it (as node-pty reports it); -1 when the status is lost. */
  exitCode: number;
  /** The signal that ended it, or 0. */
  signal: number;
  /** True when nobody could collect the status (the holder died): never reported as a clean 0. */
  statusLost: boolean;
}

export interface Disposable {
  dispose(): void;
}

/** What a HeldPty needs from the HolderClient that made it. */
export interface HeldPtyOwner {
  kill(key: string, signal: number, group: boolean): void;
  forget(key: string): void;
  /** The pty stopped being live (released, disposed or ended): no more routing to it. */
  detach(pty: HeldPty): void;
}

class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();
  add(listener: (value: T) => void): Disposable {
    this.set.add(listener);
    return { dispose: () => this.set.delete(listener) };
  }
  get size(): number {
    return this.set.size;
  }
  emit(value: T): void {
    for (const listener of [...this.set]) listener(value);
  }
}

export class HeldPty {
  private readonly stream: tty.ReadStream;
  private readonly dataListeners = new Listeners<Buffer>();
  private readonly exitListeners = new Listeners<HeldPtyExit>();
  private readonly exitingListeners = new Listeners<void>();
  private pendingInput: Buffer[] = [];
  private pendingBytes = 0;
  private retryMs = WRITE_RETRY_START_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private status: HeldPtyExit | null = null;
  private holderGone = false;
  private streamClosed = false;
  private closed = false;
  private exitFired = false;
  /** release() or dispose() was called: no exit is reported any more. */
  private released = false;
  private paused = false;

  /**
   * Takes ownership of `fd` (a pty master); throws (without closing it) when the
   * fd is not a terminal. `initialStatus`: the program already exited (reported
   * once the caller had a turn to subscribe).
   */
  constructor(
    readonly key: string,
    readonly pid: number,
    private readonly fd: number,
    private readonly owner: HeldPtyOwner,
    private readonly addon: NativeAddon,
    initialStatus: HeldPtyExit | null = null,
  ) {
    if (!tty.isatty(fd)) throw new Error(`fd ${fd} of session ${key} (pid ${pid}) is not a terminal`);
    // O_NONBLOCK is shared with the holder's copy (one open file description); the holder never reads or writes it.
    addon.setNonBlocking(fd, true);
    this.stream = new tty.ReadStream(fd);
    this.stream.on('error', () => {
      // EIO: the program side of the pty is closed and everything was read. 'close' follows.
    });
    this.stream.prependListener('end', () => readHangupTail(this.stream as unknown as PtySocket));
    this.stream.on('close', () => this.onStreamClosed());
    if (initialStatus) setImmediate(() => this.noteExit(initialStatus));
  }

  /** Output of the program, as it comes. Reading starts with the first listener. */
  onData(listener: (data: Buffer) => void): Disposable {
    const d = this.dataListeners.add(listener);
    if (this.dataListeners.size === 1 && !this.closed) {
      this.stream.on('data', (chunk: Buffer) => this.dataListeners.emit(chunk));
      if (this.paused) this.stream.pause();
    }
    return d;
  }

  /** Once, after the last output: how the program ended. */
  onExit(listener: (e: HeldPtyExit) => void): Disposable {
    return this.exitListeners.add(listener);
  }

  /** The program exited and its last output is being read: a paced reader should stop pacing. */
  onExiting(listener: () => void): Disposable {
    return this.exitingListeners.add(listener);
  }

  /** Queues input for the program; false when it was refused (pty gone, or MAX_PENDING_INPUT_BYTES waiting). */
  write(data: string | Buffer): boolean {
    if (this.closed) return false;
    let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (buf.length === 0) return true;
    if (this.pendingInput.length === 0) {
      const n = this.writeNow(buf);
      if (n < 0) return false;
      if (n === buf.length) return true;
      buf = buf.subarray(n);
    }
    if (this.pendingBytes + buf.length > MAX_PENDING_INPUT_BYTES) return false;
    this.pendingInput.push(Buffer.from(buf)); // a copy: the caller may reuse its buffer
    this.pendingBytes += buf.length;
    this.armWriteRetry();
    return true;
  }

  /** Input accepted by write() that the program has not read yet. */
  get pendingInputBytes(): number {
    return this.pendingBytes;
  }

  resize(cols: number, rows: number): void {
    if (this.closed) return;
    try {
      this.addon.setWindowSize(this.fd, cols, rows);
    } catch {
      // The terminal is hung up (the program is gone): its size no longer matters.
    }
  }

  pause(): void {
    this.paused = true;
    if (!this.closed) this.stream.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.closed && this.dataListeners.size) this.stream.resume();
  }

  /** Signals the program (and its process group with `group`), through the holder: it never hits a reused pid. */
  kill(signal: NodeJS.Signals | number = 'SIGHUP', options: { group?: boolean } = {}): void {
    const number = typeof signal === 'number' ? signal : osConstants.signals[signal];
    if (!number) throw new Error(`unknown signal ${String(signal)}`);
    this.owner.kill(this.key, number, options.group ?? false);
  }

  /** The master fd while this pty owns it, null once closed. Do not close it: release() or dispose() do. */
  get masterFd(): number | null {
    return this.closed ? null : this.fd;
  }

  /** The terminal's foreground process group (the shell, or the program it runs), or null once closed. */
  foregroundProcessGroup(): number | null {
    if (this.closed) return null;
    try {
      return this.addon.foregroundProcessGroup(this.fd);
    } catch {
      return null;
    }
  }

  /** The daemon goes away but the session stays with the holder: closes this process's copy only. */
  release(): void {
    this.released = true;
    this.close();
  }

  /** The session is over: closes this copy and tells the holder to drop the session (its copy, its status). */
  dispose(): void {
    this.release();
    this.owner.forget(this.key);
  }

  /** From the HolderClient: the holder reaped the program. */
  noteExit(status: HeldPtyExit): void {
    if (this.status || this.closed) return;
    this.status = status;
    if (this.streamClosed) return this.fireExit();
    this.exitingListeners.emit();
    if (this.dataListeners.size) this.stream.resume();
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.stream.destroy(); // a background job keeps the terminal open: give up on the rest
    }, EXIT_DRAIN_TIMEOUT_MS);
    this.drainTimer.unref();
  }

  /** From the HolderClient: the holder is gone, nobody can collect the status any more. */
  noteHolderLost(): void {
    this.holderGone = true;
    if (this.streamClosed && !this.status) this.fireExit();
  }

  private writeNow(buf: Buffer): number {
    try {
      return writeSync(this.fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      this.pendingInput = []; // EIO: the program side is gone, nobody will read it
      this.pendingBytes = 0;
      return -1;
    }
  }

  private armWriteRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flushInput();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, WRITE_RETRY_MAX_MS);
  }

  private flushInput(): void {
    while (this.pendingInput.length && !this.closed) {
      const head = this.pendingInput[0]!;
      const n = this.writeNow(head);
      if (n < 0) return;
      this.pendingBytes -= n;
      if (n < head.length) {
        this.pendingInput[0] = head.subarray(n);
        this.armWriteRetry();
        return;
      }
      this.pendingInput.shift();
    }
    this.retryMs = WRITE_RETRY_START_MS;
  }

  private onStreamClosed(): void {
    this.streamClosed = true;
    if (this.status || this.holderGone) this.fireExit();
  }

  private fireExit(): void {
    if (this.exitFired || this.released) return;
    this.exitFired = true;
    const status = this.status ?? { exitCode: -1, signal: 0, statusLost: true };
    this.close();
    this.exitListeners.emit(status);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.retryTimer = this.drainTimer = null;
    this.pendingInput = [];
    this.pendingBytes = 0;
    if (!this.stream.destroyed) this.stream.destroy(); // closes the fd (libuv), synchronously
    this.owner.detach(this);
  }
}
