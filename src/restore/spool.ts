/**
 * A Spool receives every byte a session's shell prints and can repaint the
 * session's state on a fresh terminal (reattach, or a client that fell behind).
 * Implementations: NullSpool (no restore, config "simple"), LinesSpool (the last
 * N lines, config `{ lines = N }`) and ScreenSpool (the whole screen, config
 * "screen"); `createSpool()` in create-spool.ts picks one from the config value.
 */

/** What `Spool.snapshot()` should include. */
export interface SnapshotOptions {
  /**
   * At most this many lines of the normal buffer's scrollback (above the screen).
   * Default: all that is kept. A resync of a client that is already showing the
   * session can pass 0 so its terminal's own history is not appended to twice.
   */
  scrollbackLines?: number;
}

/** What `Spool.capture()` returns (`tshpool capture NAME`). */
export interface CaptureOptions {
  /** Lines of scrollback above the screen to include, at most (0 = the screen only). */
  scrollback: number;
  /** true: SGR colours/attributes as escape sequences; false: plain text. */
  ansi: boolean;
}

export interface Spool {
  /** Every chunk of pty output, in order. Must not block; never throws. */
  write(data: Buffer): void;
  /** The pty changed size. Applies after the bytes written before it (output is sized for the old size). */
  resize(cols: number, rows: number): void;
  /**
   * Bytes that redraw the current state on a blank terminal of the current size;
   * null = nothing to replay. Reflects exactly the bytes passed to write() before
   * this call, not the ones after it, so a caller that holds later output and sends
   * it after the snapshot neither loses nor duplicates anything.
   */
  snapshot(options?: SnapshotOptions): Promise<Buffer | null>;
  /**
   * The current screen (plus up to `scrollback` lines above it) as text, one line
   * per row, trailing blanks trimmed, each line ending in '\n'. Rejects with
   * CaptureUnavailable when the spool keeps no screen (never an empty success,
   * which automation would take for a blank screen). Like snapshot(), it accounts
   * for every byte written before it.
   */
  capture(options: CaptureOptions): Promise<string>;
  /** Releases the emulator (if any). Later calls are no-ops; pending snapshots resolve to null. */
  dispose(): void;
}

/** capture() of a spool that keeps no screen; its message is for the user. */
export class CaptureUnavailable extends Error {}

/** Keeps nothing: reattach shows only what the shell prints from then on (config "simple"). */
export class NullSpool implements Spool {
  write(): void {}
  resize(): void {}
  snapshot(): Promise<Buffer | null> {
    return Promise.resolve(null);
  }
  capture(): Promise<string> {
    return Promise.reject(
      new CaptureUnavailable(
        'this session keeps no screen (session_restore_mode = "simple"), so there is nothing to capture; ' +
          'sessions created with session_restore_mode = "screen" or { lines = N } can be captured',
      ),
    );
  }
  dispose(): void {}
}
