/**
 * Giving the user's terminal back (STYLE rule 12, tmux's rule): whatever modes a
 * session's program set, every way out of attach and view writes TERMINAL_RESET,
 * and leaves the alternate screen when the program left the terminal on it.
 *
 * Leaving the alternate screen is conditional because `CSI ? 1049 l` also restores
 * the cursor saved by the last `CSI ? 1049 h` — on the normal screen too, in xterm
 * and tmux — so sent blindly after a plain shell it would move the cursor to where
 * some long-gone full-screen program started. AltScreenTracker follows the
 * program's output to know; the daemon runs it for a handed-off terminal and tells
 * the client (the `screen` reply), a relaying client runs it on what it relays.
 */

/**
 * The modes tmux resets on detach. DECSTBM homes the cursor, hence DECSC/DECRC
 * around it; SGR reset comes after DECRC, which restores attributes.
 */
export const TERMINAL_RESET =
  '\x1b7\x1b[r\x1b8' + // scroll region: whole screen
  '\x1b[?25h' + // cursor visible
  '\x1b[?9l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l\x1b[?1006l\x1b[?1015l' + // mouse reporting off
  '\x1b[?1004l' + // focus reporting off
  '\x1b[?2004l' + // bracketed paste off
  '\x1b[?1l\x1b>' + // normal cursor keys (DECCKM off), numeric keypad (DECKPNM)
  '\x1b[0m'; // attributes

/** Leaves the alternate screen and restores the cursor saved on entering it. */
export const LEAVE_ALT_SCREEN = '\x1b[?1049l';

/**
 * What to write to give the terminal back. CAN first: it aborts an escape
 * sequence a detach may have cut in half, so the reset is not read as its tail.
 */
export function terminalReset(altScreen: boolean): string {
  return '\x18' + (altScreen ? LEAVE_ALT_SCREEN : '') + TERMINAL_RESET;
}

/** DEC private modes that switch to the alternate screen. */
const ALT_SCREEN_MODES = new Set(['47', '1047', '1049']);
/** A DEC private mode set/reset: CSI ? params h|l. */
// eslint-disable-next-line no-control-regex -- escape sequences start with ESC
const PRIVATE_MODE = /\x1b\[\?([\d;]*)([hl])/g;
/** The longest unfinished `CSI ? …` kept across chunks (longer ones are not mode switches we track). */
const MAX_CARRY_BYTES = 32;

/** Follows a byte stream to know whether it left the terminal on the alternate screen. */
export class AltScreenTracker {
  private on = false;
  /** The start of a `CSI ? …` that a chunk boundary cut. */
  private carry = '';

  get altScreen(): boolean {
    return this.on;
  }

  /** Sets the state (after a repaint that is known to be on one screen or the other). */
  set altScreen(on: boolean) {
    this.on = on;
    this.carry = '';
  }

  /** Feeds output; returns true when the state changed. */
  push(chunk: Buffer): boolean {
    // Mode switches are ASCII: latin1 maps bytes 1:1 and cannot split a character.
    if (this.carry === '' && chunk.indexOf('\x1b[?') < 0 && chunk[chunk.length - 1] !== 0x1b && chunk.indexOf('\x1b[', chunk.length - 2) < 0) {
      return false;
    }
    const text = this.carry + chunk.toString('latin1');
    const before = this.on;
    let consumed = 0;
    for (const m of text.matchAll(PRIVATE_MODE)) {
      consumed = m.index + m[0].length;
      if (m[1]!.split(';').some((p) => ALT_SCREEN_MODES.has(p))) this.on = m[2] === 'h';
    }
    const lastEsc = text.lastIndexOf('\x1b');
    const tail = lastEsc >= consumed ? text.slice(lastEsc) : '';
    // eslint-disable-next-line no-control-regex -- an escape sequence cut at the chunk's end
    this.carry = tail.length <= MAX_CARRY_BYTES && /^\x1b(\[(\?[\d;]*)?)?$/.test(tail) ? tail : '';
    return this.on !== before;
  }
}
