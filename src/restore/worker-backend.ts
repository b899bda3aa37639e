/**
 * Runs ScreenEngines in one worker thread shared by all the daemon's sessions.
 *
 * Why a worker: xterm parses a pty flood at 15–60 MB/s, about as fast as a pty
 * delivers it, so on the main thread it roughly halves the speed at which the
 * daemon moves a flood to the client (docs/restore.md). Off the main thread the
 * cost of write() is one postMessage per batch, with the batch transferred, not copied.
 *
 * The worker is started on first use, unref()'d so it never keeps the daemon alive,
 * and stopped WORKER_IDLE_EXIT_MS after its last engine is gone. If it dies, queries
 * in flight fail, and the next message starts a new one with blank engines of the
 * same sizes (the screens are lost, later output is recorded again).
 */
import { Worker } from 'node:worker_threads';
import type { EngineBackend, EngineConfig } from './engine-backend.js';
import type { EngineSnapshotOptions } from './screen-engine.js';
import { assertNever, type FromWorker, type ToWorker } from './worker-messages.js';

/** Keeps a worker with no engines this long, so a kill followed by a new session does not pay a new thread (~40 ms). */
export const WORKER_IDLE_EXIT_MS = 30_000;

interface EngineEntry {
  config: EngineConfig;
  onReply: (data: Buffer) => void;
  onParsed: (() => void)[];
}

interface PendingQuery {
  resolve: (value: string) => void;
  reject: (err: Error) => void;
}

/** The shared worker and the engines living in it. */
class EngineWorkerHost {
  private worker: Worker | null = null;
  private readonly engines = new Map<number, EngineEntry>();
  private readonly queries = new Map<number, PendingQuery>();
  private nextId = 1;
  private nextReq = 1;
  private idleTimer: NodeJS.Timeout | null = null;

  create(config: EngineConfig, onReply: (data: Buffer) => void): number {
    const id = this.nextId++;
    this.engines.set(id, { config: { ...config }, onReply, onParsed: [] });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    // A fresh worker announces every engine itself (see ensureWorker).
    if (this.worker) this.post({ t: 'create', id, config });
    else this.ensureWorker();
    return id;
  }

  write(id: number, batch: Buffer, parsed: () => void): void {
    const entry = this.engines.get(id);
    if (!entry) return;
    // The batch owns its whole ArrayBuffer (ScreenSpool allocates it unpooled), so it can be moved.
    const whole = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
    const data = whole ? (batch.buffer as ArrayBuffer) : batch.buffer.slice(batch.byteOffset, batch.byteOffset + batch.byteLength);
    this.post({ t: 'write', id, data: data as ArrayBuffer }, [data as ArrayBuffer]);
    // After the post, which may throw: its answer cannot arrive before this line.
    entry.onParsed.push(parsed);
  }

  resize(id: number, cols: number, rows: number): void {
    const entry = this.engines.get(id);
    if (!entry) return;
    entry.config = { ...entry.config, cols, rows };
    this.post({ t: 'resize', id, cols, rows });
  }

  query(msg: { t: 'snapshot'; id: number; options: EngineSnapshotOptions } | { t: 'capture'; id: number; scrollback: number; ansi: boolean }): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = this.nextReq++;
      this.queries.set(req, { resolve, reject });
      this.post({ ...msg, req });
    });
  }

  dispose(id: number): void {
    const entry = this.engines.get(id);
    if (!entry) return;
    this.engines.delete(id);
    if (this.worker) this.post({ t: 'dispose', id });
    if (this.engines.size === 0 && this.worker && !this.idleTimer) {
      this.idleTimer = setTimeout(() => this.stopIfIdle(), WORKER_IDLE_EXIT_MS);
      this.idleTimer.unref();
    }
  }

  private stopIfIdle(): void {
    this.idleTimer = null;
    if (this.engines.size > 0 || !this.worker) return;
    const worker = this.worker;
    this.worker = null;
    worker.removeAllListeners();
    void worker.terminate();
  }

  private post(msg: ToWorker, transfer?: ArrayBuffer[]): void {
    this.ensureWorker().postMessage(msg, transfer);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./engine-worker.js', import.meta.url));
    worker.unref();
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.onWorkerGone(worker, err));
    worker.on('exit', (code) => this.onWorkerGone(worker, new Error(`emulator worker exited with code ${code}`)));
    this.worker = worker;
    for (const [id, entry] of this.engines) {
      entry.onParsed = [];
      worker.postMessage({ t: 'create', id, config: entry.config } satisfies ToWorker);
    }
    return worker;
  }

  private onWorkerGone(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    worker.removeAllListeners();
    const failure = new Error('the emulator worker stopped; screens were lost', { cause: err });
    for (const query of this.queries.values()) query.reject(failure);
    this.queries.clear();
    // Batches in flight will never be parsed: release their backlog accounting.
    for (const entry of this.engines.values()) for (const parsed of entry.onParsed.splice(0)) parsed();
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'parsed':
        this.engines.get(msg.id)?.onParsed.shift()?.();
        break;
      case 'reply': {
        const entry = this.engines.get(msg.id);
        entry?.onReply(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength));
        break;
      }
      case 'result': {
        const query = this.queries.get(msg.req);
        if (!query) break;
        this.queries.delete(msg.req);
        if (msg.error !== undefined) query.reject(new Error(`emulator: ${msg.error}`));
        else query.resolve(msg.value ?? '');
        break;
      }
      default:
        assertNever(msg);
    }
  }
}

let host: EngineWorkerHost | null = null;

/** One engine in the shared worker. */
export class WorkerBackend implements EngineBackend {
  private id: number | null;
  private readonly host: EngineWorkerHost;

  constructor(config: EngineConfig, onReply: (data: Buffer) => void) {
    this.host = host ??= new EngineWorkerHost();
    this.id = this.host.create(config, onReply);
  }

  write(batch: Buffer, parsed: () => void): void {
    if (this.id !== null) this.host.write(this.id, batch, parsed);
  }

  resize(cols: number, rows: number): void {
    if (this.id !== null) this.host.resize(this.id, cols, rows);
  }

  snapshot(options: EngineSnapshotOptions): Promise<string | null> {
    if (this.id === null) return Promise.resolve(null);
    return this.host.query({ t: 'snapshot', id: this.id, options });
  }

  capture(scrollback: number, ansi: boolean): Promise<string> {
    if (this.id === null) return Promise.resolve('');
    return this.host.query({ t: 'capture', id: this.id, scrollback, ansi });
  }

  dispose(): void {
    if (this.id !== null) this.host.dispose(this.id);
    this.id = null;
  }
}
