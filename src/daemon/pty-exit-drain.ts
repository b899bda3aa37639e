/**
 * Keeps the last output of a program that exits. Two things lose it otherwise:
 *
 * 1. libuv ends a stream when the fd reports POLLHUP after a short read. On a pty
 *    master a read returns at most one line-discipline buffer (4 KiB) and POLLHUP
 *    comes as soon as the program's side is closed, while the kernel may still
 *    hold up to 64 KiB of its output. So whenever the reader is behind at that
 *    moment (a loaded machine, a paced session), node-pty's socket sees 'end' and
 *    closes the fd with the tail unread: `seq 1 30000; exit` lost its last KBs in
 *    10–25 % of runs here. On that 'end' the rest is read here, up to
 *    the kernel's EIO that marks the true end.
 * 2. node-pty 1.1.0, once the child has exited, gives the pty 200 ms to be read to
 *    its end and then destroys it. That timed destroy (one without an error, after
 *    the child exited) starts a drain instead: reading resumes, `onExiting` tells
 *    the session to stop pacing, and the pty ends normally at its end of data, or
 *    after EXIT_DRAIN_TIMEOUT_MS.
 *
 * If a node-pty upgrade changes the internals, nothing is replaced.
 */
import { readSync } from 'node:fs';
import type { IPty } from 'node-pty';

/** Longest wait for an exited program's remaining output. */
export const EXIT_DRAIN_TIMEOUT_MS = 2000;
/** More than the kernel can hold for a pty (64 KiB of flip buffers + the 4 KiB line buffer). */
const HANGUP_TAIL_MAX_BYTES = 256 * 1024;
const HANGUP_READ_BYTES = 64 * 1024;

/** What a pty's libuv stream exposes (node-pty's socket, or a tty.ReadStream on a held master). */
export interface PtySocket {
  destroyed: boolean;
  readableEncoding: string | null;
  _handle?: { fd?: number } | null;
  destroy(err?: Error): unknown;
  resume(): unknown;
  emit(event: 'data', chunk: Buffer): boolean;
  prependListener(event: 'end', listener: () => void): unknown;
}

/** Reads what the kernel still holds for a pty whose program side closed (see 1. above). */
export function readHangupTail(socket: PtySocket): void {
  const fd = socket._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return;
  const buf = Buffer.allocUnsafe(HANGUP_READ_BYTES);
  for (let total = 0; total < HANGUP_TAIL_MAX_BYTES; ) {
    let n: number;
    try {
      // The fd is non-blocking (libuv made it so) and its other side is closed:
      // each read returns at once with data, or EIO at the end (EAGAIN if not hung up).
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      return;
    }
    if (n === 0) return;
    total += n;
    socket.emit('data', Buffer.from(buf.subarray(0, n)));
  }
}

export function installExitDrain(pty: IPty, onExiting: () => void): boolean {
  const internals = pty as unknown as { _socket?: PtySocket; _boundClose?: boolean };
  const socket = internals._socket;
  if (!socket || typeof socket.destroy !== 'function' || typeof socket.resume !== 'function' || internals._boundClose !== false) return false;
  // Only byte streams (encoding: null, as tshpool spawns them) can be handed on as read.
  if (socket.readableEncoding === null) socket.prependListener('end', () => readHangupTail(socket));
  const destroy = socket.destroy.bind(socket);
  let draining = false;
  socket.destroy = (err?: Error) => {
    // node-pty sets _boundClose when the child has exited, just before arming its timer;
    // any other destroy (closing a live pty on purpose) goes through at once.
    if (err || draining || socket.destroyed || !internals._boundClose) return destroy(err);
    draining = true;
    onExiting();
    socket.resume();
    setTimeout(() => {
      if (!socket.destroyed) destroy();
    }, EXIT_DRAIN_TIMEOUT_MS).unref();
    return socket;
  };
  return true;
}
