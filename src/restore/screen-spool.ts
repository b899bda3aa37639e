/**
 * ScreenSpool: a Spool backed by a headless xterm, so a reattaching client gets
 * the screen it left (config "screen"), or only the last N lines of it (LinesSpool,
 * config `{ lines = N }`).
 *
 * write() is on the daemon's live path (every pty chunk, main thread), so it only
 * appends the chunk to a list. The list is handed to the emulator as one batch
 * once it holds SPOOL_BATCH_BYTES or SPOOL_FLUSH_DELAY_MS after its first chunk:
 * one message to the emulator worker per batch instead of per 2–4 KiB pty chunk,
 * and xterm parses big writes several times faster than small ones. Any query
 * (snapshot, capture, resize) flushes the list first, so it sees every byte
 * written before it.
 */
import type { EngineBackend, EngineConfig } from './engine-backend.js';
import { InlineBackend } from './inline-backend.js';
import type { ReplayScope } from './screen-engine.js';
import type { CaptureOptions, SnapshotOptions, Spool } from './spool.js';
import { WorkerBackend } from './worker-backend.js';

/** A batch this large is handed over at once: past ~64 KiB neither xterm's per-write cost nor the per-message cost shows. */
export const SPOOL_BATCH_BYTES = 128 * 1024;
/**
 * Smaller output waits at most this long. Only replies to terminal queries are
 * latency-sensitive, and 25 ms is nothing to them; a shorter delay woke the
 * emulator thread after nearly every keystroke and cost ~60 µs of echo latency
 * at p50 on 2 cores (measured with a raw client against a `cat` session).
 */
export const SPOOL_FLUSH_DELAY_MS = 25;
/**
 * Output not yet parsed beyond this is not recorded (a marker line in the screen
 * says so) instead of queueing without bound; xterm itself throws past 50 MB. It is
 * ~2.5 s of a pty flood, reached only if the emulator is starved of CPU for that long.
 */
export const SPOOL_MAX_BACKLOG_BYTES = 32 * 1024 * 1024;
/** Default `output_spool_lines`: scrollback lines kept above the screen. */
export const DEFAULT_SPOOL_LINES = 1000;

/** Where the emulator runs; see docs/restore.md for the measurements behind the default. */
export type EngineLocation = 'worker' | 'inline';

/** What a ScreenSpool (or LinesSpool) is made with. */
export interface ScreenSpoolOptions {
  cols: number;
  rows: number;
  /** Scrollback lines kept above the screen (config `output_spool_lines`). Default DEFAULT_SPOOL_LINES. */
  scrollbackLines?: number;
  /**
   * The emulator's answers to terminal queries (DA, DSR/CPR, …) in the order they
   * arise. Forward them to the pty only while no client is attached: an attached
   * client's terminal answers for itself.
   */
  reply: (data: Buffer) => void;
  /** Default 'worker' (the shared emulator thread). */
  engine?: EngineLocation;
}

type Settle = () => void;

/** The Spool of `session_restore_mode = "screen"`: see the file comment. */
export class ScreenSpool implements Spool {
  private backend: EngineBackend | null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Bytes handed to the emulator and not yet parsed. */
  private backlogBytes = 0;
  /** Bytes dropped because of the backlog bound, not yet reported in the screen. */
  private unrecordedBytes = 0;
  /** Queries in flight, settled empty if the spool is disposed first. */
  private readonly inFlight = new Set<Settle>();

  constructor(
    options: ScreenSpoolOptions,
    private readonly scope: ReplayScope = { kind: 'screen' },
  ) {
    const config: EngineConfig = {
      cols: options.cols,
      rows: options.rows,
      scrollbackLines: Math.max(0, options.scrollbackLines ?? DEFAULT_SPOOL_LINES),
    };
    const reply = options.reply;
    this.backend = options.engine === 'inline' ? new InlineBackend(config, reply) : new WorkerBackend(config, reply);
  }

  write(data: Buffer): void {
    if (!this.backend || data.length === 0) return;
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= SPOOL_BATCH_BYTES) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), SPOOL_FLUSH_DELAY_MS);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const backend = this.backend;
    if (!backend || this.pendingBytes === 0) return;
    const size = this.pendingBytes;
    // allocUnsafeSlow: never a slice of Node's shared pool, so the worker backend may transfer it.
    const batch = Buffer.allocUnsafeSlow(size);
    let offset = 0;
    for (const chunk of this.pending) offset += chunk.copy(batch, offset);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.backlogBytes + size > SPOOL_MAX_BACKLOG_BYTES) {
      this.unrecordedBytes += size;
      return;
    }
    if (this.unrecordedBytes > 0) {
      const marker = Buffer.from(`\x1b[0m\r\n[tshpool: ${this.unrecordedBytes} bytes of output not recorded]\r\n`);
      this.unrecordedBytes = 0;
      this.hand(backend, marker);
    }
    this.hand(backend, batch);
  }

  /** write() must never throw into the pty's data handler: a failure to hand over counts as unrecorded output. */
  private hand(backend: EngineBackend, batch: Buffer): void {
    const size = batch.length;
    this.backlogBytes += size;
    try {
      backend.write(batch, () => (this.backlogBytes -= size));
    } catch {
      this.backlogBytes -= size;
      this.unrecordedBytes += size;
    }
  }

  resize(cols: number, rows: number): void {
    this.flush();
    this.backend?.resize(cols, rows);
  }

  snapshot(options: SnapshotOptions = {}): Promise<Buffer | null> {
    this.flush();
    const backend = this.backend;
    if (!backend) return Promise.resolve(null);
    const snap = backend.snapshot({
      scope: this.scope,
      ...(options.scrollbackLines === undefined ? {} : { scrollbackLines: options.scrollbackLines }),
    });
    return this.track(snap, null).then((s) => (s === null ? null : Buffer.from(s, 'utf8')));
  }

  capture(options: CaptureOptions): Promise<string> {
    this.flush();
    const backend = this.backend;
    if (!backend) return Promise.resolve('');
    return this.track(backend.capture(options.scrollback, options.ansi), '');
  }

  /** Settles `query` with `empty` if the spool is disposed before it answers. */
  private track<T>(query: Promise<T>, empty: T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const settle: Settle = () => resolve(empty);
      this.inFlight.add(settle);
      query.then(
        (value) => {
          this.inFlight.delete(settle);
          resolve(value);
        },
        (err: unknown) => {
          this.inFlight.delete(settle);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pending = [];
    this.pendingBytes = 0;
    this.backend?.dispose();
    this.backend = null;
    for (const settle of this.inFlight) settle();
    this.inFlight.clear();
  }
}

/**
 * Replays only the last `lines` lines of the normal buffer (config
 * `session_restore_mode = { lines = N }`), like shpool's lines mode: no alternate
 * screen, no cursor placement beyond the last line. Keeps just enough scrollback.
 */
export class LinesSpool extends ScreenSpool {
  constructor(lines: number, options: Omit<ScreenSpoolOptions, 'scrollbackLines'>) {
    const kept = Math.max(1, Math.floor(lines));
    super({ ...options, scrollbackLines: kept }, { kind: 'lines', lines: kept });
  }
}
