/**
 * One connection to tshpool-holder: requests out, decoded replies (with the fds
 * they carry) in. The socket is read on a native thread (Node's sockets cannot
 * receive fds) and written without blocking; a request the socket does not take
 * at once waits in a bounded queue. Requests are a few hundred bytes and the
 * holder reads eagerly, so that queue is nearly always empty: a retry timer is
 * all it needs, not a writability watcher.
 */
import { close } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import type { NativeAddon, NativeChannel } from '../../platform/native.js';
import { encodeHolderRequest, HolderReplyDecoder, type HolderReply, type HolderRequest } from './holder-protocol.js';

/** Unsent requests beyond this mean the holder stopped reading: the connection is dropped. */
export const MAX_HOLDER_SEND_QUEUE_BYTES = 8 * 1024 * 1024;
const SEND_RETRY_START_MS = 1;
const SEND_RETRY_MAX_MS = 50;

const EV_CONNECTED = 0;
const EV_DATA = 1;
const EV_END = 2;

/** A connection attempt that failed; `code` is the errno name (ENOENT, ECONNREFUSED…). */
export class HolderConnectError extends Error {
  override name = 'HolderConnectError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Closes an fd received from the holder that nobody will use. */
export function closeReceivedFd(fd: number): void {
  close(fd, () => {
    // Already closed or never valid: nothing to release.
  });
}

export interface HolderConnectionHandlers {
  onReply(reply: HolderReply): void;
  /** Called once, when the connection is gone (either side closed it, or a protocol error). */
  onEnd(reason: string): void;
}

export class HolderConnection {
  /** The holder's pid, from SO_PEERCRED. */
  peerPid = 0;
  private readonly decoder = new HolderReplyDecoder(closeReceivedFd);
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private retryMs = SEND_RETRY_START_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private open = false;
  private ended = false;
  private endReason = '';
  private channel: NativeChannel | null = null;

  private constructor(
    private readonly addon: NativeAddon,
    private readonly handlers: HolderConnectionHandlers,
  ) {}

  /** Connects to the holder's socket; rejects with HolderConnectError when nobody serves it. */
  static connect(addon: NativeAddon, socketPath: string, handlers: HolderConnectionHandlers): Promise<HolderConnection> {
    const conn = new HolderConnection(addon, handlers);
    return new Promise((resolve, reject) => {
      conn.channel = addon.channelOpen(socketPath, (kind, a, b) => {
        if (kind === EV_CONNECTED) {
          const peer = a as { pid: number; uid: number };
          conn.open = true;
          conn.peerPid = peer.pid;
          if (peer.uid !== process.getuid!()) {
            conn.close(`the socket ${socketPath} is served by uid ${peer.uid}, not by you`);
            reject(new HolderConnectError(`${socketPath} is served by uid ${peer.uid}, not by you (uid ${process.getuid!()})`, 'EPERM'));
          } else {
            resolve(conn);
          }
        } else if (kind === EV_DATA) {
          conn.onData(a as Buffer, b as number[]);
        } else if (kind === EV_END) {
          const errno = a as number;
          const reason = conn.endReason || (errno ? `${getSystemErrorName(-errno)}: ${String(b)}` : 'the holder closed the connection');
          if (!conn.open) reject(new HolderConnectError(`cannot connect to ${socketPath}: ${reason}`, errno ? getSystemErrorName(-errno) : 'ECONNRESET'));
          conn.finish(reason);
        }
      });
    });
  }

  get isOpen(): boolean {
    return this.open && !this.ended && this.endReason === '';
  }

  send(req: HolderRequest): void {
    if (!this.isOpen || !this.channel) return;
    const frame = encodeHolderRequest(req);
    if (this.queue.length === 0) {
      const sent = this.trySend(frame);
      if (sent === frame.length || sent < 0) return;
      this.queue.push(frame.subarray(sent));
    } else {
      this.queue.push(frame);
    }
    this.queuedBytes += this.queue[this.queue.length - 1]!.length;
    if (this.queuedBytes > MAX_HOLDER_SEND_QUEUE_BYTES) this.close(`the holder stopped reading (${this.queuedBytes} bytes unsent)`);
    else this.armRetry();
  }

  /** Whether this connection keeps the event loop alive (like socket.ref/unref). */
  ref(keepAlive: boolean): void {
    if (this.channel && !this.ended) this.addon.channelRef(this.channel, keepAlive);
  }

  /** Ends the connection; onEnd follows with `reason`. */
  close(reason: string): void {
    if (this.ended || !this.channel) return;
    if (!this.endReason) this.endReason = reason;
    this.clearRetry();
    this.addon.channelClose(this.channel);
  }

  /** Bytes the socket took, or -1 when the connection failed (it is then closing). */
  private trySend(frame: Buffer): number {
    try {
      return this.addon.channelSend(this.channel!, frame);
    } catch (err) {
      this.close(`sending to the holder: ${(err as Error).message}`);
      return -1;
    }
  }

  private armRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, SEND_RETRY_MAX_MS);
  }

  private flush(): void {
    while (this.queue.length && this.isOpen) {
      const head = this.queue[0]!;
      const sent = this.trySend(head);
      if (sent < 0) return;
      this.queuedBytes -= sent;
      if (sent < head.length) {
        this.queue[0] = head.subarray(sent);
        this.armRetry();
        return;
      }
      this.queue.shift();
    }
    this.retryMs = SEND_RETRY_START_MS;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private onData(data: Buffer, fds: number[]): void {
    if (this.ended || this.endReason) {
      for (const fd of fds) closeReceivedFd(fd);
      return;
    }
    let replies: HolderReply[];
    try {
      replies = this.decoder.push(data, fds);
    } catch (err) {
      this.close(`protocol error: ${(err as Error).message}`);
      return;
    }
    for (const reply of replies) {
      // After a close() the rest is not wanted: release what it carries.
      if (this.endReason) {
        if ('fd' in reply) closeReceivedFd(reply.fd);
        continue;
      }
      this.handlers.onReply(reply);
    }
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.clearRetry();
    this.queue.length = 0;
    this.decoder.dispose();
    if (this.open) this.handlers.onEnd(reason);
  }
}
