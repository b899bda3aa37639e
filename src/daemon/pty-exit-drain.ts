/**
 * Keeps the last output of a program that exits: node-pty 1.1.0, once the child
 * has exited, gives the pty 200 ms to be read to its end and then destroys it,
 * discarding whatever is still unread. On a loaded machine, or while the attached
 * client paces the session (client-link.ts), the daemon may not have read that
 * far yet, and the last lines of `make; exit` would be lost. Here that timed
 * destroy (one without an error, after the child exited) starts a drain
 * instead: reading resumes, `onExiting` tells the session to stop pacing,
 * and the pty ends normally at its end of data, or after EXIT_DRAIN_TIMEOUT_MS.
 * If a node-pty upgrade changes the internals, nothing is replaced.
 */
import type { IPty } from 'node-pty';

/** Longest wait for an exited program's remaining output. */
const EXIT_DRAIN_TIMEOUT_MS = 2000;

interface PtySocket {
  destroyed: boolean;
  destroy(err?: Error): unknown;
  resume(): unknown;
}

export function installExitDrain(pty: IPty, onExiting: () => void): boolean {
  const internals = pty as unknown as { _socket?: PtySocket; _boundClose?: boolean };
  const socket = internals._socket;
  if (!socket || typeof socket.destroy !== 'function' || typeof socket.resume !== 'function' || internals._boundClose !== false) return false;
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
