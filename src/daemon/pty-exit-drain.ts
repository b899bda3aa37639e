/**
 * Keeps the last output of a program that exits: node-pty 1.1.0, once the child
 * has exited, gives the pty 200 ms to be read to its end and then destroys it,
 * discarding whatever is still unread. On a loaded machine, or while the attached
 * client paces the session (client-link.ts), the daemon may not have read that
 * far yet, and the last lines of `make; exit` would be lost. Here that timed
 * destroy (the only call without an error while the pty is still open) starts a
 * drain instead: reading resumes, `onExiting` tells the session to stop pacing,
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
  const socket = (pty as unknown as { _socket?: PtySocket })._socket;
  if (!socket || typeof socket.destroy !== 'function' || typeof socket.resume !== 'function') return false;
  const destroy = socket.destroy.bind(socket);
  let draining = false;
  socket.destroy = (err?: Error) => {
    if (err || draining || socket.destroyed) return destroy(err);
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
