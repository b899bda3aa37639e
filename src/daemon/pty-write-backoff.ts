/**
 * Input to the pty, tuned on top of node-pty 1.1.0's write queue:
 * - node-pty retries a write the kernel refused (EAGAIN: the program is not
 *   reading its input) on the very next event-loop turn, forever, so a session
 *   whose program stops reading makes the daemon spin at up to a full core. The
 *   retry here backs off from 1 ms to 50 ms and resets once a write goes through.
 * - node-pty sends every write, a single keystroke included, through the libuv
 *   thread pool (fs.write). The pty master is non-blocking (O_NONBLOCK), so a
 *   write straight from the event loop never blocks: it takes what the kernel
 *   accepts or fails with EAGAIN. Keystrokes so skip two thread hops of echo
 *   latency; whatever is not taken goes to the queue as before.
 * Everything else is node-pty's own logic. If a node-pty upgrade changes the
 * internals, nothing is replaced (see the shape check) and upstream behaviour applies.
 */
import { write, writeSync } from 'node:fs';

const RETRY_START_MS = 1;
const RETRY_MAX_MS = 50;

interface WriteTask {
  buffer: Buffer;
  offset: number;
}

interface NodePtyWriteStream {
  _fd: number;
  _encoding: BufferEncoding | undefined;
  _writeQueue: WriteTask[];
  _writeImmediate: unknown;
  write(data: string | Buffer): void;
  _processWriteQueue(): void;
  dispose(): void;
}

export function installWriteBackoff(pty: unknown): boolean {
  const ws = (pty as { _writeStream?: Partial<NodePtyWriteStream> })._writeStream;
  if (!ws || typeof ws._fd !== 'number' || !Array.isArray(ws._writeQueue) || typeof ws._processWriteQueue !== 'function' || typeof ws.write !== 'function') {
    return false;
  }
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
  stream.write = function writeNow(data: string | Buffer): void {
    const buffer = typeof data === 'string' ? Buffer.from(data, stream._encoding) : Buffer.from(data);
    if (buffer.byteLength === 0) return;
    let offset = 0;
    if (stream._writeQueue.length === 0) {
      try {
        offset = writeSync(stream._fd, buffer);
      } catch {
        // EAGAIN (or anything else): the queue below retries, and reports as upstream.
      }
      if (offset >= buffer.byteLength) return;
    }
    stream._writeQueue.push({ buffer, offset });
    if (stream._writeQueue.length === 1 && !retryTimer) stream._processWriteQueue();
  };
  const dispose = stream.dispose.bind(stream);
  stream.dispose = function disposeWithBackoff(): void {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    dispose();
  };
  return true;
}
