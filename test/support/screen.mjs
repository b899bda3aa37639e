/**
 * Screen: a headless xterm that interprets what a client received, so tests can
 * assert on what a user would see (the screen buffer, the cursor, the modes)
 * rather than on raw bytes.
 *
 *   import { screenOf } from '../support/screen.mjs';
 *
 *   const since = term.bytes.length;             // or 0: everything the client printed
 *   // ... reattach, wait for something ...
 *   const s = await screenOf(term.bytes, { cols: 80, rows: 24 });
 *   s.lines();          // the visible rows as text, trailing blanks trimmed
 *   s.text();           // the same joined with '\n'
 *   s.find('MARK');     // { row, col } (1-based) of the first visible match, or null
 *   s.cursor();         // { row, col } 1-based, on the active buffer
 *   s.bufferType();     // 'normal' | 'alternate'
 *   s.title             // the last window title set, or null
 *   s.term              // the @xterm/headless Terminal (modes, buffers...)
 *
 * `waitScreen(term, pred)` re-interprets the client's output whenever it grows until
 * `pred(screen)` holds: the way to wait for a screen state without sleeping.
 */
import xterm from '@xterm/headless';

const { Terminal } = xterm;

export class Screen {
  constructor(term) {
    this.term = term;
    /** The last window title set (OSC 0/2), or null. */
    this.title = null;
    term.onTitleChange((t) => (this.title = t));
  }

  /**
   * The visible rows of the active buffer as text. Trailing blanks are trimmed, also
   * printed spaces: on a terminal they look the same as empty cells.
   */
  lines() {
    const buf = this.term.buffer.active;
    const out = [];
    for (let y = 0; y < this.term.rows; y++) out.push((buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '').trimEnd());
    return out;
  }

  /** The visible rows joined with '\n'. */
  text() {
    return this.lines().join('\n');
  }

  /** Scrollback plus screen of the active buffer, one string per line. */
  allLines() {
    const buf = this.term.buffer.active;
    const out = [];
    for (let y = 0; y < buf.length; y++) out.push((buf.getLine(y)?.translateToString(true) ?? '').trimEnd());
    return out;
  }

  /** 1-based position of the first visible occurrence of `s`, or null. */
  find(s) {
    const lines = this.lines();
    for (let i = 0; i < lines.length; i++) {
      const c = lines[i].indexOf(s);
      if (c >= 0) return { row: i + 1, col: c + 1 };
    }
    return null;
  }

  /** The cursor, 1-based, in the active buffer's viewport. */
  cursor() {
    const buf = this.term.buffer.active;
    return { row: buf.cursorY + 1, col: buf.cursorX + 1 };
  }

  /** 'normal' or 'alternate'. */
  bufferType() {
    return this.term.buffer.active.type;
  }

  /** Is the cursor hidden (DECTCEM off)? Reads xterm's core service, as the daemon does. */
  cursorHidden() {
    return this.term._core?.coreService?.isCursorHidden === true;
  }

  /** The text row at `row` (1-based). */
  row(row) {
    return this.lines()[row - 1] ?? '';
  }

  /** For failure messages. */
  dump() {
    const c = this.cursor();
    return `[${this.bufferType()} buffer, cursor ${c.row};${c.col}]\n${this.lines()
      .map((l, i) => `${String(i + 1).padStart(2)}|${l}`)
      .join('\n')}`;
  }

  dispose() {
    this.term.dispose();
  }
}

/** Feeds `bytes` (Buffer/string) into a fresh headless xterm of the given size; resolves once parsed. */
export function screenOf(bytes, { cols = 80, rows = 24, scrollback = 1000 } = {}) {
  const screen = new Screen(new Terminal({ cols, rows, scrollback, allowProposedApi: true }));
  return new Promise((resolve) => screen.term.write(bytes, () => resolve(screen)));
}

/**
 * Waits until `pred(screen)` holds for the screen `ptyTerm`'s output produces
 * (from byte offset `since`, default 0). The emulator is fed incrementally as output
 * arrives. Resolves to the Screen; rejects with the last screen dumped after `timeout`.
 */
export async function waitScreen(ptyTerm, pred, { since = 0, timeout = 10_000, cols, rows, message = 'screen condition' } = {}) {
  const deadline = Date.now() + timeout;
  const screen = new Screen(new Terminal({ cols: cols ?? ptyTerm.cols, rows: rows ?? ptyTerm.rows, scrollback: 1000, allowProposedApi: true }));
  let fed = since;
  let checkedAt = -1;
  for (;;) {
    const bytes = ptyTerm.bytes;
    if (bytes.length > fed) {
      const chunk = bytes.subarray(fed);
      fed = bytes.length;
      await new Promise((r) => screen.term.write(chunk, r));
    }
    if (checkedAt !== fed) {
      checkedAt = fed;
      let ok = false;
      try {
        ok = !!pred(screen);
      } catch {
        ok = false;
      }
      if (ok) return screen;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; screen:\n${screen.dump()}`);
    }
    if (ptyTerm.exit && ptyTerm.bytes.length === fed) {
      throw new Error(`${ptyTerm.label} exited ${JSON.stringify(ptyTerm.exit)} before ${message}; screen:\n${screen.dump()}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}
