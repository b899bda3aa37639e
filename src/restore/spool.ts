/**
 * A Spool receives every byte a session's shell prints and can repaint the
 * session's state on a fresh terminal (reattach, or a client that fell behind).
 * Implementations: NullSpool (no restore), and the screen / lines spools of the
 * restore module.
 */
export interface Spool {
  /** Every chunk of pty output, in order. Must not block. */
  write(data: Buffer): void;
  /** The pty changed size. */
  resize(cols: number, rows: number): void;
  /** Bytes that redraw the current state on a blank terminal of the current size; null = nothing to replay. */
  snapshot(): Promise<Buffer | null>;
  dispose(): void;
}

export class NullSpool implements Spool {
  write(): void {}
  resize(): void {}
  snapshot(): Promise<Buffer | null> {
    return Promise.resolve(null);
  }
  dispose(): void {}
}
