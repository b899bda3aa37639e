/**
 * The daemon's leveled log. Writes go through one async file stream (never a
 * terminal, never a sync write); when the file cannot keep up or cannot be written
 * (full disk, removed directory) lines are dropped and counted instead of blocking
 * or crashing the daemon.
 */
import { close, createWriteStream, statSync, write, writev, type WriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { openLogFile } from '../private-file.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Unwritten log bytes beyond which new lines are dropped rather than queued. */
const LOG_QUEUE_LIMIT_BYTES = 4 * 1024 * 1024;
/** The log is rotated to `<file>.1` (one old generation kept) when it grows past this. */
export const LOG_MAX_BYTES = 10 * 1024 * 1024;
/** After a write error (full disk, removed directory) the log is opened again this often, so it resumes once it can. */
export const LOG_REOPEN_MS = 1000;

/**
 * The file operations of the log stream: the open is the checked one of
 * private-file.ts (no symlink followed, only a file of ours). Tests inject failures.
 */
export interface LogFileSystem {
  open(path: string, flags: unknown, mode: unknown, cb: (err: Error | null, fd?: number) => void): void;
  write: typeof write;
  writev: typeof writev;
  close: typeof close;
}

export const CHECKED_LOG_FS: LogFileSystem = {
  open: (path, _flags, _mode, cb) => void openLogFile(path).then((fd) => cb(null, fd), (err: Error) => cb(err)),
  write,
  writev,
  close,
};

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** `-v` count → level: none = info, -v = debug, -vv = trace. */
export function levelForVerbosity(verbose: number): LogLevel {
  return verbose >= 2 ? 'trace' : verbose === 1 ? 'debug' : 'info';
}

export class Logger {
  private stream: WriteStream | null = null;
  private rank: number;
  /** Bytes in the current file (approximate: what we wrote since opening it, plus its size then). */
  private size = 0;
  private rotating = false;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | null = null;
  /** Lines that could not be written (queue full, file unwritable), shown by `tshpool status`. */
  dropped = 0;
  /** Why the log is not being written right now, or null when it is. */
  lastError: string | null = null;

  constructor(
    private readonly file: string | null,
    level: LogLevel,
    private readonly fs: LogFileSystem = CHECKED_LOG_FS,
  ) {
    this.rank = LOG_LEVELS.indexOf(level);
    if (this.file) {
      // Start-up only: how much an existing log already holds.
      try {
        this.size = statSync(this.file).size;
      } catch {
        this.size = 0;
      }
    }
    this.open();
  }

  private open(): void {
    if (!this.file || this.closed) return;
    const stream = createWriteStream(this.file, { fs: this.fs });
    stream.on('error', (err) => {
      // A log we cannot write (full disk, removed directory) must not take the daemon down;
      // it is tried again, so it resumes when space comes back.
      if (this.stream !== stream) return;
      this.stream = null;
      this.lastError = err.message;
      this.scheduleReopen();
    });
    this.stream = stream;
  }

  private scheduleReopen(): void {
    if (this.reopenTimer || this.closed) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      this.open();
    }, LOG_REOPEN_MS);
    this.reopenTimer.unref();
  }

  /** Moves the full log aside (`.1`, replacing the previous one) and starts a new file. */
  private rotate(): void {
    const old = this.stream;
    if (!this.file || !old || this.rotating) return;
    this.rotating = true;
    this.stream = null;
    old.end(() => {
      void rename(this.file!, `${this.file}.1`)
        .catch(() => undefined)
        .finally(() => {
          this.rotating = false;
          this.size = 0;
          this.open();
        });
    });
  }

  get level(): LogLevel {
    return LOG_LEVELS[this.rank]!;
  }
  set level(level: LogLevel) {
    this.rank = LOG_LEVELS.indexOf(level);
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.rank;
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  trace(msg: string, fields?: Record<string, unknown>): void {
    this.write('trace', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level) || !this.file) return;
    if (!this.stream || this.stream.writableLength > LOG_QUEUE_LIMIT_BYTES) {
      this.dropped++;
      return;
    }
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) line += ` ${k}=${typeof v === 'string' ? JSON.stringify(v) : v instanceof Error ? JSON.stringify(v.message) : JSON.stringify(v)}`;
      }
    }
    line += '\n';
    this.size += line.length;
    this.stream.write(line, (err) => {
      // The error stays shown until a line is written again (a reopened file may still be full).
      if (err) this.dropped++;
      else this.lastError = null;
    });
    if (this.size > LOG_MAX_BYTES) this.rotate();
  }

  /** Flushes and closes the file; resolves when written. */
  close(): Promise<void> {
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    const s = this.stream;
    this.stream = null;
    return new Promise((resolve) => (s ? s.end(resolve) : resolve()));
  }
}
