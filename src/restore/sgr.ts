/**
 * SGR (colour and attribute) rendering of xterm cells, for `capture --ansi`, the
 * lines snapshot and the cursor fix-ups of the screen snapshot. The serialize
 * addon has its own, but it renders whole buffers with cursor movements instead of
 * spaces, which is wrong for text meant to be printed or piped.
 */
import type { IBufferCell, IBufferLine } from '@xterm/headless';

/** The attribute accessors shared by xterm's cells and its internal current-attribute record. */
export type CellAttributes = Pick<
  IBufferCell,
  | 'isFgRGB'
  | 'isFgPalette'
  | 'isBgRGB'
  | 'isBgPalette'
  | 'getFgColor'
  | 'getBgColor'
  | 'isBold'
  | 'isDim'
  | 'isItalic'
  | 'isUnderline'
  | 'isBlink'
  | 'isInverse'
  | 'isInvisible'
  | 'isStrikethrough'
  | 'isOverline'
>;

function colorParams(rgb: boolean, palette: boolean, color: number, base: number, brightBase: number): number[] {
  if (rgb) return [base + 8, 2, (color >>> 16) & 0xff, (color >>> 8) & 0xff, color & 0xff];
  if (!palette) return [];
  if (color >= 16) return [base + 8, 5, color];
  return [color >= 8 ? brightBase + (color - 8) : base + color];
}

/** The SGR parameters that set `a` from the default state (empty = all default). */
export function sgrParams(a: CellAttributes): number[] {
  const p: number[] = [];
  if (a.isBold()) p.push(1);
  if (a.isDim()) p.push(2);
  if (a.isItalic()) p.push(3);
  if (a.isUnderline()) p.push(4);
  if (a.isBlink()) p.push(5);
  if (a.isInverse()) p.push(7);
  if (a.isInvisible()) p.push(8);
  if (a.isStrikethrough()) p.push(9);
  if (a.isOverline()) p.push(53);
  p.push(...colorParams(a.isFgRGB(), a.isFgPalette(), a.getFgColor(), 30, 90));
  p.push(...colorParams(a.isBgRGB(), a.isBgPalette(), a.getBgColor(), 40, 100));
  return p;
}

/** An SGR sequence that sets exactly `a`, whatever was set before. */
export function sgrAbsolute(a: CellAttributes): string {
  const p = sgrParams(a);
  return p.length === 0 ? '\x1b[0m' : `\x1b[0;${p.join(';')}m`;
}

/**
 * One row as text with SGR sequences: empty cells become spaces, trailing blank
 * cells on the default background are dropped (written spaces too, unless
 * `trimSpaces` is false), and the row ends with attributes reset if it changed
 * any. `cell` is scratch space (avoids allocation).
 */
export function renderRowAnsi(line: IBufferLine, cols: number, cell: IBufferCell, trimSpaces = true): string {
  let end = Math.min(cols, line.length);
  while (end > 0) {
    const c = line.getCell(end - 1, cell);
    if (!c || !c.isBgDefault() || c.isInverse() || c.isUnderline()) break;
    const chars = c.getChars();
    if (chars !== '' && !(trimSpaces && chars === ' ')) break;
    end--;
  }
  let out = '';
  let current = '';
  for (let x = 0; x < end; x++) {
    const c = line.getCell(x, cell);
    if (!c || c.getWidth() === 0) continue; // the second half of a wide character
    const params = sgrParams(c).join(';');
    if (params !== current) {
      out += params === '' ? '\x1b[0m' : `\x1b[0;${params}m`;
      current = params;
    }
    out += c.getChars() || ' ';
  }
  return current === '' ? out : `${out}\x1b[0m`;
}
