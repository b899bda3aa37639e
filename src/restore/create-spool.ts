/**
 * Picks the spool for a session from the config value `session_restore_mode`.
 */
import { DEFAULT_SPOOL_LINES, LinesSpool, ScreenSpool, type EngineLocation } from './screen-spool.js';
import { NullSpool, type Spool } from './spool.js';

/** `session_restore_mode`: the whole screen, nothing, or the last N lines. */
export type SpoolMode = 'screen' | 'simple' | { lines: number };

/** Everything a spool needs besides the mode. */
export interface CreateSpoolOptions {
  cols: number;
  rows: number;
  /** Config `output_spool_lines` (scrollback above the screen, 'screen' mode). Default 1000. */
  scrollbackLines?: number;
  /** Answers to terminal queries; forward to the pty only while no client is attached (see ScreenSpoolOptions.reply). */
  reply: (data: Buffer) => void;
  /** Where the emulator runs. Default 'worker'. */
  engine?: EngineLocation;
}

/** The spool for `mode`: NullSpool, LinesSpool or ScreenSpool. */
export function createSpool(mode: SpoolMode, options: CreateSpoolOptions): Spool {
  const common = { cols: options.cols, rows: options.rows, reply: options.reply, ...(options.engine ? { engine: options.engine } : {}) };
  if (mode === 'simple') return new NullSpool();
  if (mode === 'screen') return new ScreenSpool({ ...common, scrollbackLines: options.scrollbackLines ?? DEFAULT_SPOOL_LINES });
  return new LinesSpool(mode.lines, common);
}
