/**
 * Flow control between a session's program and its attached client's terminal
 * (one OutputPacer per attached ClientLink; client-link.ts owns it).
 *
 * The rule: while more than CLIENT_PACE_BYTES wait for the terminal, the program's
 * output is not read (the program waits, as it would on a bare terminal); it is
 * read again once the queue is down to CLIENT_PACE_RESUME_BYTES. A terminal that
 * makes progress — it took bytes since the last look — keeps pacing the program
 * however slow it is, so it gets every byte. Only a terminal that takes nothing
 * for CLIENT_STALL_WINDOW_MS is stalled (a stopped client, a full SSH window):
 * the program goes on, and client-link.ts drops and repaints once its queue is
 * over CLIENT_QUEUE_LIMIT_BYTES. A stalled terminal that takes bytes again paces
 * again.
 *
 * Pure logic over injected I/O and clock, so tests/unit/output-pacing.test.mjs
 * can drive it step by step.
 */
import { CLIENT_PACE_BYTES, CLIENT_PACE_CHECK_MS, CLIENT_PACE_RESUME_BYTES, CLIENT_STALL_WINDOW_MS } from '../consts.js';

/** What the pacer looks at and acts on. */
export interface PacerIo {
  /** Bytes written to the terminal (or socket) and not yet taken by it. */
  queuedBytes(): number;
  /** A count that grows whenever the terminal (or socket) takes bytes (not necessarily by their number). */
  acceptedBytes(): number;
  /** Holds the program's output back (true) or lets it go (false). */
  hold(hold: boolean): void;
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** `flowing`: output goes; `holding`: the program waits for the terminal; `stalled`: the terminal took nothing for the stall window. */
export type PaceState = 'flowing' | 'holding' | 'stalled';

export class OutputPacer {
  private state: PaceState = 'flowing';
  /** acceptedBytes() at the last look, and when it last grew. */
  private lastAccepted = 0;
  private progressAt = 0;
  private stopChecking: (() => void) | null = null;

  constructor(private readonly io: PacerIo) {}

  get current(): PaceState {
    return this.state;
  }

  /** Call after each write to the terminal. */
  onWritten(): void {
    if (this.state === 'stalled' && this.io.acceptedBytes() > this.lastAccepted) this.state = 'flowing';
    if (this.state !== 'flowing' || this.io.queuedBytes() <= CLIENT_PACE_BYTES) return;
    this.state = 'holding';
    this.lastAccepted = this.io.acceptedBytes();
    this.progressAt = this.io.now();
    this.stopChecking = this.io.every(CLIENT_PACE_CHECK_MS, () => this.check());
    this.io.hold(true);
  }

  /** The terminal took everything queued. */
  onDrain(): void {
    if (this.state === 'holding') this.release('flowing');
    else this.state = 'flowing';
  }

  /** Looks at the terminal's progress while the program waits (run every CLIENT_PACE_CHECK_MS). */
  check(): void {
    if (this.state !== 'holding') return;
    if (this.io.queuedBytes() <= CLIENT_PACE_RESUME_BYTES) return this.release('flowing');
    const accepted = this.io.acceptedBytes();
    if (accepted > this.lastAccepted) {
      this.lastAccepted = accepted;
      this.progressAt = this.io.now();
    } else if (this.io.now() - this.progressAt >= CLIENT_STALL_WINDOW_MS) {
      this.release('stalled');
    }
  }

  /** Lets the program go for good (the client leaves or fell behind). */
  dispose(): void {
    if (this.state === 'holding') this.release('flowing');
  }

  private release(next: PaceState): void {
    this.stopChecking?.();
    this.stopChecking = null;
    this.state = next;
    this.io.hold(false);
  }
}
