/**
 * Entry point of the shared emulator worker: hosts the ScreenEngines of every
 * session of the daemon, so parsing floods of output never competes with the main
 * thread that moves bytes between ptys and clients (docs/restore.md has the numbers).
 */
import { parentPort } from 'node:worker_threads';
import { ScreenEngine } from './screen-engine.js';
import { assertNever, type FromWorker, type ToWorker } from './worker-messages.js';

const port = parentPort;
if (!port) throw new Error('engine-worker.js must run as a worker thread');

const engines = new Map<number, ScreenEngine>();
const post = (msg: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

/** Runs `query` on engine `id` after its pending writes, answering `req` either way. */
function answer(id: number, req: number, query: (engine: ScreenEngine) => string): void {
  const engine = engines.get(id);
  if (!engine) {
    post({ t: 'result', req, error: `no emulator ${id}` });
    return;
  }
  engine.afterWrites(() => {
    try {
      post({ t: 'result', req, value: query(engine) });
    } catch (err) {
      post({ t: 'result', req, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
}

port.on('message', (msg: ToWorker) => {
  switch (msg.t) {
    case 'create':
      engines.get(msg.id)?.dispose();
      engines.set(
        msg.id,
        new ScreenEngine({ ...msg.config, onReply: (data) => post({ t: 'reply', id: msg.id, data }) }),
      );
      break;
    case 'write': {
      const bytes = msg.data.byteLength;
      const engine = engines.get(msg.id);
      if (engine) engine.write(new Uint8Array(msg.data), () => post({ t: 'parsed', id: msg.id, bytes }));
      else post({ t: 'parsed', id: msg.id, bytes });
      break;
    }
    case 'resize':
      engines.get(msg.id)?.resize(msg.cols, msg.rows);
      break;
    case 'snapshot':
      answer(msg.id, msg.req, (engine) => engine.snapshot(msg.options));
      break;
    case 'capture':
      answer(msg.id, msg.req, (engine) => engine.capture(msg.scrollback, msg.ansi));
      break;
    case 'dispose':
      engines.get(msg.id)?.dispose();
      engines.delete(msg.id);
      break;
    default:
      assertNever(msg);
  }
});
