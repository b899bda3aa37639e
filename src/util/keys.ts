/**
 * Key names → bytes, shared by keybindings (`Ctrl-Space Ctrl-q`) and
 * `send --keys` (`Enter`, `C-c`). A key is a named key (Enter, Tab, Esc, Space,
 * BSpace, Up, Down, Right, Left, Home, End, PageUp, PageDown, Delete, Insert, F1-F12),
 * a single character, or a Ctrl chord written `Ctrl-x`, `C-x` or `^x`.
 */

const NAMED: Record<string, string> = {
  enter: '\r',
  return: '\r',
  tab: '\t',
  esc: '\x1b',
  escape: '\x1b',
  space: ' ',
  bspace: '\x7f',
  backspace: '\x7f',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  home: '\x1b[H',
  end: '\x1b[F',
  pageup: '\x1b[5~',
  pgup: '\x1b[5~',
  pagedown: '\x1b[6~',
  pgdn: '\x1b[6~',
  delete: '\x1b[3~',
  dc: '\x1b[3~',
  insert: '\x1b[2~',
  ic: '\x1b[2~',
  f1: '\x1bOP',
  f2: '\x1bOQ',
  f3: '\x1bOR',
  f4: '\x1bOS',
  f5: '\x1b[15~',
  f6: '\x1b[17~',
  f7: '\x1b[18~',
  f8: '\x1b[19~',
  f9: '\x1b[20~',
  f10: '\x1b[21~',
  f11: '\x1b[23~',
  f12: '\x1b[24~',
};

function ctrl(key: string): string | null {
  if (key.toLowerCase() === 'space' || key === '@' || key === '2') return '\x00';
  if (key.length !== 1) return null;
  const code = key.toUpperCase().charCodeAt(0);
  // @ A-Z [ \ ] ^ _ map to 0x00-0x1f; ? is DEL.
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code & 0x1f);
  if (key === '?') return '\x7f';
  return null;
}

/** Bytes of one key, or null when the name is not a key. */
export function keyBytes(name: string): string | null {
  const m = /^(?:ctrl-|c-|\^)(.+)$/i.exec(name);
  if (m && name.length > 1) return ctrl(m[1]!);
  const named = NAMED[name.toLowerCase()];
  if (named !== undefined) return named;
  return [...name].length === 1 ? name : null;
}

/**
 * Parses a binding — keys separated by spaces, pressed one after another — into
 * the byte sequence the terminal sends. Throws with the offending key.
 */
export function parseBinding(binding: string): Buffer {
  const keys = binding.trim().split(/\s+/u).filter(Boolean);
  if (keys.length === 0) throw new Error('a binding needs at least one key');
  let out = '';
  for (const key of keys) {
    const bytes = keyBytes(key);
    if (bytes === null) throw new Error(`unknown key '${key}' (try Ctrl-a, C-a, Space, Enter, Esc, a single character)`);
    out += bytes;
  }
  return Buffer.from(out, 'utf8');
}
