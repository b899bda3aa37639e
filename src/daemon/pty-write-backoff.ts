/**
 * node-pty 1.1.0 retries a write the kernel refused (EAGAIN: the program is not
 * reading its input) on the very next event-loop turn, forever: a session whose
 * program stops reading while input is pending makes the daemon spin at up to a
 * full core. This replaces that retry, per pty, with one that backs off from 1 ms
 * to 50 ms and resets once a write goes through. Everything else is node-pty's
 * own logic. If a node-pty upgrade changes the internals, nothing is replaced
 * (see the shape check) and the upstream behaviour applies.
 */
import { write } from 'node:fs';

const RETRY_START_MS = 1;
const RETRY_MAX_MS = 50;

interface WriteTask {
  buffer: Buffer;
  offset: number;
}

interface NodePtyWriteStream {
  _fd: number;
  _writeQueue: WriteTask[];
  _writeImmediate: unknown;
  _processWriteQueue(): void;
  dispose(): void;
}

export function installWriteBackoff(pty: unknown): boolean {
  const ws = (pty as { _writeStream?: Partial<NodePtyWriteStream> })._writeStream;
  if (!ws || typeof ws._fd !== 'number' || !Array.isArray(ws._writeQueue) || typeof ws._processWriteQueue !== 'function') return false;
  const stream = ws as NodePtyWriteStream;
  let retryMs = RETRY_START_MS;
  let retryTimer: NodeJS.Timeout | null = null;
  stream._processWriteQueue = function processWriteQueue(): void {
    retryTimer = null;
    const task = stream._writeQueue[0];
    if (!task) return;
    write(stream._fd, task.buffer, task.offset, (err, written) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          retryTimer = setTimeout(() => stream._processWriteQueue(), retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        } else {
          // As upstream: an unexpected error (the pty is gone) drops the queue.
          stream._writeQueue.length = 0;
        }
        return;
      }
      retryMs = RETRY_START_MS;
      task.offset += written;
      if (task.offset >= task.buffer.byteLength) stream._writeQueue.shift();
      stream._processWriteQueue();
    });
  };
  const dispose = stream.dispose.bind(stream);
  stream.dispose = function disposeWithBackoff(): void {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    dispose();
  };
  return true;
}
