/**
 * The terminal emulator behind the screen and lines spools: one @xterm/headless
 * Terminal plus the serialize addon, and the state the addon does not serialize
 * (cursor visibility and style, mouse encodings, scroll region, title, keypad…).
 *
 * Everything here is synchronous and owns no timers or threads, so the same class
 * runs on the daemon's main thread or inside the shared emulator worker
 * (engine-worker.ts). Ordering rule: xterm parses write()s asynchronously, in
 * order; every query (snapshot, capture, resize) is queued behind the writes made
 * before it with `afterWrites()` and runs inside xterm's write callback, i.e.
 * exactly after those bytes were parsed and before any later ones are.
 */
import { createRequire } from 'node:module';
import type { IBuffer, ITerminalOptions, Terminal } from '@xterm/headless';
import { OutputCondenser } from './output-condenser.js';
import { renderRowAnsi, sgrAbsolute, type CellAttributes } from './sgr.js';

/** The parts of @xterm/addon-serialize we use (its typings import @xterm/xterm, which is not installed). */
interface SerializeAddonLike {
  activate(terminal: Terminal): void;
  dispose(): void;
  serialize(options?: { scrollback?: number; excludeModes?: boolean; excludeAltBuffer?: boolean; range?: { start: number; end: number } }): string;
}

interface XtermModules {
  Terminal: new (options: ITerminalOptions & { cols: number; rows: number }) => Terminal;
  SerializeAddon: new () => SerializeAddonLike;
}

let modules: XtermModules | null = null;

/**
 * Loads xterm on first use: the daemon pays ~13 ms only when a screen spool is
 * made, and the client never. createRequire because the packages' ESM entry points
 * do not provide named exports under Node.
 */
function loadXterm(): XtermModules {
  if (!modules) {
    const require = createRequire(import.meta.url);
    const { Terminal: TerminalClass } = require('@xterm/headless') as { Terminal: XtermModules['Terminal'] };
    const { SerializeAddon } = require('@xterm/addon-serialize') as { SerializeAddon: XtermModules['SerializeAddon'] };
    modules = { Terminal: TerminalClass, SerializeAddon };
  }
  return modules;
}

/**
 * xterm internals read by `hiddenState()`. xterm tracks these exactly (including
 * resets, clamping and per-buffer scroll regions) but exposes none of them; reading
 * them is more faithful than re-implementing its state machine with parser hooks.
 * Every field is optional so a future xterm that renames one degrades to "not
 * restored" instead of throwing; test/unit/screen-spool.test.mjs pins each one.
 */
interface XtermCore {
  coreService?: { isCursorHidden?: boolean; decPrivateModes?: { cursorStyle?: string; cursorBlink?: boolean } };
  coreMouseService?: { activeEncoding?: string };
  buffer?: { scrollTop?: number; scrollBottom?: number };
  _inputHandler?: { _curAttrData?: CellAttributes };
}

/** Mouse encodings (DECSET numbers); xterm.js ignores 1005 and 1015, so they are tracked with parser hooks. */
const MOUSE_ENCODING_MODES = [1005, 1006, 1015, 1016] as const;
const MOUSE_TRACKING_MODES: Record<string, number> = { x10: 9, vt200: 1000, drag: 1002, any: 1003 };
/** DECSCUSR parameter for xterm's (style, blink) pair; blink undefined = the style's default (blinking). */
const CURSOR_STYLE_PARAMS: Record<string, [blinking: number, steady: number]> = {
  block: [1, 2],
  underline: [3, 4],
  bar: [5, 6],
};

/**
 * Sent first by every snapshot: puts a terminal that may not be blank (a client
 * resynchronised after falling behind, whose terminal saw part of the output) into
 * the state the serialized content assumes: normal screen, no margins, autowrap on,
 * insert off, default colours and charset, cleared, cursor hidden while drawing.
 * Synchronized output (?2026) lets terminals that know it paint the result at once.
 */
const SNAPSHOT_PREAMBLE = '\x1b[?2026h\x1b[?25l\x1b[?1049l\x1b[r\x1b[?6l\x1b[?7h\x1b[4l\x1b(B\x0f\x1b[0m\x1b[H\x1b[2J';
/**
 * The preamble for a terminal that already has the session's history (a repaint
 * without scrollback): many terminals (tmux's scroll-on-clear, VTE) push the whole
 * screen into their history when it is cleared at once, which would add a copy of
 * the screen to it on every reattach; erasing from the second row down, then the
 * first row, is not a whole-screen clear.
 */
const REPAINT_PREAMBLE = SNAPSHOT_PREAMBLE.replace('\x1b[H\x1b[2J', '\x1b[2;1H\x1b[J\x1b[H\x1b[2K');
const SNAPSHOT_END = '\x1b[?2026l';

/** What a ScreenEngine is made with. */
export interface ScreenEngineOptions {
  cols: number;
  rows: number;
  /** Lines kept above the screen in the normal buffer. xterm fills them lazily: an idle session costs its screen only. */
  scrollbackLines: number;
  /** The emulator's answers to terminal queries (DA, DSR/CPR, …), as the bytes a terminal would send. */
  onReply: (data: Buffer) => void;
}

/** What a snapshot holds: the whole state ('screen') or only the last N lines of the normal buffer. */
export type ReplayScope = { kind: 'screen' } | { kind: 'lines'; lines: number };

/** Options of `ScreenEngine.snapshot()`. */
export interface EngineSnapshotOptions {
  scope: ReplayScope;
  /** See SnapshotOptions.scrollbackLines ('screen' scope only). */
  scrollbackLines?: number;
}

const EMPTY_BYTES = new Uint8Array(0);

/** One emulated terminal. See the file comment for the ordering rule. */
export class ScreenEngine {
  private readonly term: Terminal;
  private readonly serializer: SerializeAddonLike;
  private readonly core: XtermCore;
  /** The DECSET number of the mouse encoding in effect, if any (xterm.js does not track 1005/1015). */
  private mouseEncoding: number | null = null;
  private title: string | null = null;
  private disposed = false;
  /** Drops flood output that cannot show in any snapshot before xterm parses it. */
  private readonly condenser: OutputCondenser;
  private readonly scrollbackLines: number;

  constructor(options: ScreenEngineOptions) {
    const { Terminal: TerminalClass, SerializeAddon } = loadXterm();
    this.term = new TerminalClass({
      cols: options.cols,
      rows: options.rows,
      scrollback: options.scrollbackLines,
      // registerCsiHandler and friends need it.
      allowProposedApi: true,
    });
    this.scrollbackLines = options.scrollbackLines;
    this.condenser = new OutputCondenser((data) => this.term.write(data), options.rows, options.scrollbackLines);
    this.serializer = new SerializeAddon();
    this.term.loadAddon(this.serializer);
    this.core = (this.term as unknown as { _core?: XtermCore })._core ?? {};
    // onData carries replies as UTF-8 text; onBinary carries byte strings (X10 mouse reports).
    this.term.onData((data) => options.onReply(Buffer.from(data, 'utf8')));
    this.term.onBinary((data) => options.onReply(Buffer.from(data, 'latin1')));
    this.term.onTitleChange((title) => {
      this.title = title;
    });
    // The handlers return false so xterm's own handling still runs after them.
    const trackMouseEncoding = (set: boolean) => (params: (number | number[])[]) => {
      for (const p of params) {
        const mode = typeof p === 'number' ? p : p[0];
        if (!(MOUSE_ENCODING_MODES as readonly (number | undefined)[]).includes(mode)) continue;
        if (set) this.mouseEncoding = mode ?? null;
        else if (this.mouseEncoding === mode) this.mouseEncoding = null;
      }
      return false;
    };
    this.term.parser.registerCsiHandler({ prefix: '?', final: 'h' }, trackMouseEncoding(true));
    this.term.parser.registerCsiHandler({ prefix: '?', final: 'l' }, trackMouseEncoding(false));
    // RIS (ESC c) resets the mouse modes in xterm too.
    this.term.parser.registerEscHandler({ final: 'c' }, () => {
      this.mouseEncoding = null;
      return false;
    });
  }

  get cols(): number {
    return this.term.cols;
  }

  get rows(): number {
    return this.term.rows;
  }

  /** Queues bytes for parsing; `parsed` runs once they are. */
  write(data: Uint8Array, parsed?: () => void): void {
    if (this.disposed) return;
    this.condenser.push(data);
    if (parsed) this.term.write(EMPTY_BYTES, parsed);
  }

  /** Runs `fn` right after everything written so far is parsed and before anything written later. */
  afterWrites(fn: () => void): void {
    if (this.disposed) return;
    this.condenser.drain();
    this.term.write(EMPTY_BYTES, fn);
  }

  /**
   * Resizes after the bytes written so far are parsed: they were produced for the
   * old size. Output written after this call is condensed for the new size at once.
   */
  resize(cols: number, rows: number): void {
    if (this.disposed) return;
    this.condenser.setSize(rows, this.scrollbackLines);
    this.afterWrites(() => {
      if (!this.disposed && (cols !== this.term.cols || rows !== this.term.rows)) this.term.resize(cols, rows);
    });
  }

  /** Bytes received and bytes never parsed because no snapshot could show them. */
  get condenserStats(): { inBytes: number; droppedBytes: number } {
    return { ...this.condenser.stats };
  }

  /** Bytes that repaint the parsed state on a blank terminal of the same size (see SNAPSHOT_PREAMBLE). */
  snapshot(options: EngineSnapshotOptions): string {
    if (options.scope.kind === 'lines') return this.snapshotLines(options.scope.lines);
    const scrollback = options.scrollbackLines;
    const content = this.serializer.serialize({
      ...(scrollback === undefined ? {} : { scrollback: Math.max(0, scrollback) }),
      excludeModes: true,
    });
    const preamble = scrollback === 0 ? REPAINT_PREAMBLE : SNAPSHOT_PREAMBLE;
    return preamble + content + this.cursorAndModes(true) + SNAPSHOT_END;
  }

  /**
   * The last `lines` lines of the normal buffer, ending at the cursor's line, then
   * the cursor's column and the input modes. The alternate screen is left out on
   * purpose: that is what "lines" mode means (as in shpool).
   */
  private snapshotLines(lines: number): string {
    const buf = this.term.buffer.normal;
    const cursorRow = buf.baseY + buf.cursorY;
    const first = Math.max(0, cursorRow - Math.max(1, lines) + 1);
    let out = SNAPSHOT_PREAMBLE;
    const cell = buf.getNullCell();
    for (let y = first; y <= cursorRow; y++) {
      const line = buf.getLine(y);
      if (!line) continue;
      // Written spaces are kept: a wrapped row must reach the last column to continue by autowrap.
      out += renderRowAnsi(line, this.term.cols, cell, false);
      if (y < cursorRow) {
        // A wrapped row continues by autowrap only if it was printed to the last column.
        const next = buf.getLine(y + 1);
        const full = next?.isWrapped === true && (line.getCell(this.term.cols - 1, cell)?.getChars() ?? '') !== '';
        if (!full) out += '\r\n';
      }
    }
    out += `\x1b[0m\r${buf.cursorX > 0 ? `\x1b[${Math.min(buf.cursorX, this.term.cols - 1)}C` : ''}`;
    return out + this.currentAttributes() + this.cursorAndModes(false) + SNAPSHOT_END;
  }

  /**
   * The active screen plus up to `scrollback` lines above it: one line per row,
   * trailing blanks trimmed, trailing blank rows dropped, each line ending in '\n'.
   */
  capture(scrollback: number, ansi: boolean): string {
    const buf = this.term.buffer.active;
    const first = Math.max(0, buf.baseY - Math.max(0, scrollback));
    const lastRow = buf.baseY + this.term.rows - 1;
    const cell = buf.getNullCell();
    const out: string[] = [];
    for (let y = first; y <= lastRow; y++) {
      const line = buf.getLine(y);
      if (!line) continue;
      out.push(ansi ? renderRowAnsi(line, this.term.cols, cell) : line.translateToString(true).replace(/ +$/, ''));
    }
    while (out.length > 0 && out[out.length - 1] === '') out.pop();
    return out.map((l) => `${l}\n`).join('');
  }

  /** The attributes new text gets (SGR state), absolute. */
  private currentAttributes(): string {
    const attrs = this.core._inputHandler?._curAttrData;
    return attrs ? sgrAbsolute(attrs) : '\x1b[0m';
  }

  /**
   * Everything the serialize addon leaves out, in an order that keeps each piece
   * from undoing another: margins first (DECSTBM homes the cursor), then origin mode
   * (DECOM homes it too), then the cursor, then modes that change how later output
   * prints (insert, autowrap), then the rest. Modes are sent on and off alike so a
   * terminal that was showing the session is corrected as well.
   */
  private cursorAndModes(withScreen: boolean): string {
    const term = this.term;
    const modes = term.modes;
    const buf = term.buffer.active;
    let out = '';
    if (withScreen) {
      const top = this.core.buffer?.scrollTop ?? 0;
      const bottom = this.core.buffer?.scrollBottom ?? term.rows - 1;
      if (top !== 0 || bottom !== term.rows - 1) out += `\x1b[${top + 1};${bottom + 1}r`;
      if (modes.originMode) out += '\x1b[?6h';
      out += this.cursorPosition(buf, modes.originMode ? top : 0, modes.wraparoundMode);
    }
    out += modes.insertMode ? '\x1b[4h' : '\x1b[4l';
    out += modes.wraparoundMode ? '\x1b[?7h' : '\x1b[?7l';
    out += modes.reverseWraparoundMode ? '\x1b[?45h' : '\x1b[?45l';
    out += modes.applicationCursorKeysMode ? '\x1b[?1h' : '\x1b[?1l';
    // DECKPAM / DECKPNM: the ESC forms are what applications send (xterm.js also takes ?66).
    out += modes.applicationKeypadMode ? '\x1b=' : '\x1b>';
    out += modes.bracketedPasteMode ? '\x1b[?2004h' : '\x1b[?2004l';
    out += modes.sendFocusMode ? '\x1b[?1004h' : '\x1b[?1004l';
    out += '\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l';
    const tracking = MOUSE_TRACKING_MODES[modes.mouseTrackingMode];
    if (tracking !== undefined) out += `\x1b[?${tracking}h`;
    out += MOUSE_ENCODING_MODES.map((m) => `\x1b[?${m}l`).join('');
    const encoding = this.mouseEncoding ?? (this.core.coreMouseService?.activeEncoding === 'SGR' ? 1006 : null);
    if (encoding !== null) out += `\x1b[?${encoding}h`;
    out += this.cursorStyle();
    // eslint-disable-next-line no-control-regex -- a title must not end its own escape sequence
    if (this.title !== null) out += `\x1b]2;${this.title.replace(/[\x00-\x1f\x7f]/g, '')}\x07`;
    out += this.core.coreService?.isCursorHidden ? '\x1b[?25l' : '\x1b[?25h';
    return out;
  }

  /**
   * CUP to the cursor. A cursor in the "pending wrap" state (just past the last
   * column: the next character goes to the next line) cannot be placed there with
   * CUP, so the last cell of the row is printed again to get there the way the
   * application did.
   */
  private cursorPosition(buf: IBuffer, originTop: number, autowrap: boolean): string {
    const cols = this.term.cols;
    const row = buf.cursorY - originTop + 1;
    if (buf.cursorX < cols) return `\x1b[${row};${buf.cursorX + 1}H`;
    const last = buf.getLine(buf.baseY + buf.cursorY)?.getCell(cols - 1);
    if (!autowrap || !last || last.getWidth() !== 1 || last.getChars() === '') return `\x1b[${row};${cols}H`;
    return `\x1b[${row};${cols}H${sgrAbsolute(last)}${last.getChars()}${this.currentAttributes()}`;
  }

  /** DECSCUSR for the style the application chose; 0 (the user's default) if it chose none. */
  private cursorStyle(): string {
    const modes = this.core.coreService?.decPrivateModes;
    const params = modes?.cursorStyle === undefined ? undefined : CURSOR_STYLE_PARAMS[modes.cursorStyle];
    if (!params) return '\x1b[0 q';
    return `\x1b[${modes?.cursorBlink === false ? params[1] : params[0]} q`;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.term.dispose();
  }
}
