/**
 * The daemon's side of one attached client connection: writes replies and shell
 * output to it without ever letting it hold up the shell. Output is written while
 * the socket keeps up; once more than CLIENT_QUEUE_LIMIT_BYTES wait unsent, the
 * client is "behind": further output is dropped (the shell keeps running at full
 * speed) and, when the socket drains, the client is resynchronised with a fresh
 * repaint. A client that does not drain within CLIENT_STALL_TIMEOUT_MS is cut off.
 * Before that, the attached client paces its session while its terminal makes
 * progress (output-pacing.ts), so a slower terminal that is alive loses nothing.
 * A repaint after a drop ends with what the program printed last, so the screen
 * never freezes on a stale state: the snapshot in "screen" and `{ lines = N }`
 * modes, the tail of the skipped output in "simple" mode (which has no snapshot).
 *
 * With a terminal handed off (terminal-handoff.ts), output goes straight to the
 * client's tty instead of as DATA frames over the socket; the socket then carries
 * only control messages, and the same rules apply to the tty's queue.
 */
import type { Socket } from 'node:net';
import type { ReadStream } from 'node:tty';
import {
  CLIENT_QUEUE_LIMIT_BYTES,
  CLIENT_RESYNC_TAIL_BYTES,
  CLIENT_STALL_TIMEOUT_MS,
  TERMINAL_FLUSH_TIMEOUT_MS,
} from '../consts.js';
import { encodeControl, encodeData } from '../protocol/codec.js';
import type { Reply } from '../protocol/messages.js';
import type { SnapshotOptions } from '../restore/spool.js';
import type { Logger } from './log.js';
import { AltScreenTracker } from '../util/terminal-modes.js';
import { OutputPacer } from './output-pacing.js';

/** Repaint sent to a client that fell behind when no screen snapshot is available. */
const RESYNC_FALLBACK = Buffer.from('\x1b[0m\x1b[H\x1b[2J[tshpool: output skipped while this terminal was not keeping up]\r\n');

export class ClientLink {
  private behind = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Output that arrives while a snapshot is being prepared, sent right after it. */
  private held: Buffer[] | null = null;
  /** Paces the session's program to this terminal; set for the attached client only. */
  private pacer: OutputPacer | null = null;
  private stopPacing: () => void = () => undefined;
  /** Bytes ever written to `out`; minus its queue, what the terminal (or socket) took. */
  private writtenBytes = 0;
  /** libuv's write queue at the last look, and the bytes seen leaving it (see acceptedBytes). */
  private libuvQueueBytes = 0;
  private partialWriteBytes = 0;
  /** The last CLIENT_RESYNC_TAIL_BYTES (or a little more) of the output dropped while behind. */
  private droppedTail: Buffer[] = [];
  private droppedTailBytes = 0;
  /** Whether a handed-off terminal is on the alternate screen; the client is told (the `screen` reply). */
  private readonly screenModes = new AltScreenTracker();

  constructor(
    readonly socket: Socket,
    readonly pid: number,
    private readonly log: Logger,
    /** Produces the repaint for this client (the session's spool snapshot). */
    private readonly snapshot: (options?: SnapshotOptions) => Promise<Buffer | null>,
    /** The client's own terminal, when it was handed off to the daemon. */
    readonly terminal: ReadStream | null = null,
  ) {
    if (!terminal) return;
    terminal.on('error', (err) => log.debug('client terminal error', { pid, error: err }));
    // The terminal hung up (SSH dropped): end the connection, which the session sees as a hangup.
    terminal.on('close', () => {
      if (!this.closed) socket.destroy();
    });
    socket.once('close', () => this.releaseTerminal());
  }

  /** Where output goes: the terminal itself, or the socket in DATA frames. */
  private get out(): Socket | ReadStream {
    return this.terminal ?? this.socket;
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  sendControl(reply: Reply): void {
    if (this.isClosed) return;
    this.socket.write(encodeControl(reply));
  }

  /**
   * Sends a repaint first and holds live output until it is out, so nothing is torn
   * or duplicated. `fallback` is sent when there is no snapshot to send.
   * Resolves to the snapshot that was sent (null when there was none).
   */
  async restore(fallback: Buffer | null = null, options?: SnapshotOptions): Promise<Buffer | null> {
    this.held = [];
    let snap: Buffer | null = null;
    try {
      snap = await this.snapshot(options);
    } catch (err) {
      this.log.warn('snapshot failed', { error: err as Error });
    }
    const held = this.held;
    this.held = null;
    const sent = snap ?? fallback;
    if (sent && !this.isClosed) this.writeData(sent);
    for (const chunk of held) this.sendOutput(chunk);
    return snap;
  }

  /** Shell output for this client; drops it instead of queueing without bound. */
  sendOutput(data: Buffer): void {
    if (this.isClosed) return;
    if (this.behind) return this.keepDropped(data);
    if (this.held) {
      this.held.push(data);
      return;
    }
    if (this.out.writableLength > CLIENT_QUEUE_LIMIT_BYTES) {
      this.fallBehind();
      return;
    }
    this.writeData(data);
    this.pacer?.onWritten();
  }

  /** Makes this client pace the session: `hold` holds its output back (true) or lets it go (false). */
  setPacer(hold: (hold: boolean) => void): void {
    const out = this.out;
    const pacer = new OutputPacer({
      queuedBytes: () => out.writableLength,
      acceptedBytes: () => this.acceptedBytes(),
      hold,
      now: () => performance.now(),
      every: (ms, fn) => {
        const timer = setInterval(fn, ms);
        return () => clearInterval(timer);
      },
    });
    const onDrain = (): void => pacer.onDrain();
    out.on('drain', onDrain);
    this.pacer = pacer;
    this.stopPacing = () => {
      out.off('drain', onDrain);
      pacer.dispose();
      this.pacer = null;
    };
  }

  /**
   * A count that grows whenever the terminal (or socket) takes bytes. Node counts a
   * write as queued until all of it is out, and it merges queued writes into one,
   * so at 100 KB/s a write can take seconds: libuv's own queue size, which shrinks
   * with every partial write, shows the progress in between.
   */
  private acceptedBytes(): number {
    const queue = (this.out as unknown as { _handle?: { writeQueueSize?: number } })._handle?.writeQueueSize;
    if (typeof queue === 'number') {
      if (queue < this.libuvQueueBytes) this.partialWriteBytes += this.libuvQueueBytes - queue;
      this.libuvQueueBytes = queue;
    }
    return this.writtenBytes - this.out.writableLength + this.partialWriteBytes;
  }

  /** Remembers the end of what is dropped: "simple" mode has no snapshot to repaint with. */
  private keepDropped(data: Buffer): void {
    this.droppedTail.push(data);
    this.droppedTailBytes += data.length;
    while (this.droppedTail.length > 1 && this.droppedTailBytes - this.droppedTail[0]!.length >= CLIENT_RESYNC_TAIL_BYTES) {
      this.droppedTailBytes -= this.droppedTail.shift()!.length;
    }
  }

  /** The repaint without a snapshot: a notice, then the skipped output's last lines (from a line start). */
  private takeResyncFallback(): Buffer {
    let tail = Buffer.concat(this.droppedTail).subarray(-CLIENT_RESYNC_TAIL_BYTES);
    this.droppedTail = [];
    this.droppedTailBytes = 0;
    const lineStart = tail.indexOf(0x0a);
    tail = lineStart >= 0 ? tail.subarray(lineStart + 1) : Buffer.alloc(0);
    return Buffer.concat([RESYNC_FALLBACK, tail]);
  }

  private writeData(data: Buffer): void {
    this.writtenBytes += data.length;
    if (this.terminal) {
      this.terminal.write(data);
      if (this.screenModes.push(data)) this.sendControl({ type: 'screen', altScreen: this.screenModes.altScreen });
      return;
    }
    const [head, body] = encodeData(data);
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(body);
    this.socket.uncork();
  }

  private fallBehind(): void {
    this.behind = true;
    this.pacer?.dispose();
    this.log.debug('client fell behind; dropping its backlog', { pid: this.pid, queued: this.out.writableLength });
    this.stallTimer = setTimeout(() => {
      this.log.info('client stalled; disconnecting it (the session stays)', { pid: this.pid });
      this.releaseTerminal();
      this.socket.destroy();
    }, CLIENT_STALL_TIMEOUT_MS);
    this.out.once('drain', () => {
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.behind = false;
      // The terminal already shows the session's history: repaint the screen only.
      const fallback = this.takeResyncFallback();
      if (!this.isClosed) void this.restore(fallback, { scrollbackLines: 0 });
    });
  }

  /**
   * Sends a last reply (if any) and closes the connection gracefully. A handed-off
   * terminal is let go first, so that nothing of ours reaches it after the client
   * has restored it; on `exit` the shell's last output is flushed to it before.
   */
  end(reply?: Reply): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.isClosed) return;
    this.closed = true;
    this.stopPacing();
    const close = (): void => {
      this.releaseTerminal();
      if (reply) this.socket.end(encodeControl(reply));
      else this.socket.end();
      // A client that stopped reading would keep the socket half-open forever.
      this.socket.setTimeout(CLIENT_STALL_TIMEOUT_MS, () => this.socket.destroy());
    };
    const terminal = this.terminal;
    if (terminal && reply?.type === 'exit' && !this.behind && terminal.writableLength > 0) {
      // A write's callback runs once everything written before it is out ('drain'
      // would only come if a write had been refused).
      const timer = setTimeout(close, TERMINAL_FLUSH_TIMEOUT_MS);
      terminal.write(Buffer.alloc(0), () => {
        clearTimeout(timer);
        close();
      });
    } else close();
  }

  private releaseTerminal(): void {
    if (this.terminal && !this.terminal.destroyed) this.terminal.destroy();
  }
}
