/**
 * The picker's text, computed without any widget library: which sessions show
 * in which order, the columns that fit a width, the help line, the preview lines.
 * Everything here returns plain strings measured in terminal columns.
 */
import { formatAge } from '../../util/duration.js';
import type { PickerSession } from './types.js';
import { cutToWidth, displayWidth, fitToWidth } from '../../util/display-width.js';

export { cutToWidth } from '../../util/display-width.js';


/**
 * Control characters replaced by '?', tabs by a space: text from a session
 * (its command, its screen) must never move the picker's cursor or change its modes.
 */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

// ---- which sessions, in which order ----

/** Sessions whose name contains `filter` (case-insensitive); all of them for an empty filter. */
export function filterSessions(sessions: readonly PickerSession[], filter: string): PickerSession[] {
  const needle = filter.toLowerCase();
  return sessions.filter((s) => s.name.toLowerCase().includes(needle));
}

/**
 * Most recently used first (an attached session is in use now), then by name: the
 * session a returning user wants is usually the one they left last.
 */
export function sortSessions(sessions: readonly PickerSession[]): PickerSession[] {
  const recency = (s: PickerSession): number => (s.attached ? Number.POSITIVE_INFINITY : s.lastActivityMs);
  return [...sessions].sort((a, b) => recency(b) - recency(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---- the table ----

export type Column = 'name' | 'status' | 'age' | 'active' | 'command';
type Cells = Record<Column, string>;

const COLUMNS: readonly Column[] = ['name', 'status', 'age', 'active', 'command'];
const HEADERS: Cells = { name: 'NAME', status: 'STATUS', age: 'AGE', active: 'ACTIVE', command: 'COMMAND' };
/** Columns given up, in this order, when the terminal is too narrow for all of them. */
const DROP_ORDER: readonly Column[] = ['command', 'age', 'active', 'status'];
/** A command cut to fewer columns than this says nothing: drop the column instead. */
const MIN_COMMAND_COLS = 8;
/** Long names are cut here so the other columns stay visible. */
const MAX_NAME_COLS = 24;
const GAP = '  ';

/** "attached", "disconnected", with ", 2 viewers" when someone watches. */
export function statusText(s: PickerSession): string {
  const base = s.attached ? 'attached' : 'disconnected';
  return s.viewers > 0 ? `${base}, ${s.viewers} viewer${s.viewers === 1 ? '' : 's'}` : base;
}

export function sessionCells(s: PickerSession, nowMs: number): Cells {
  return {
    name: sanitize(s.name),
    status: statusText(s),
    age: formatAge(nowMs - s.startedAtMs),
    active: s.attached ? 'now' : `${formatAge(nowMs - s.lastActivityMs)} ago`,
    command: sanitize(s.command),
  };
}

/** The columns shown and their widths; `command` takes what is left of the line. */
export interface TableLayout {
  columns: Column[];
  widths: Record<Column, number>;
}

/** Fits the columns of `rows` into `width` terminal columns, dropping the least useful first. */
export function fitTable(rows: readonly Cells[], width: number): TableLayout {
  const widths = {} as Record<Column, number>;
  for (const c of COLUMNS) widths[c] = Math.max(displayWidth(HEADERS[c]), ...rows.map((r) => displayWidth(r[c])));
  widths.name = Math.min(widths.name, MAX_NAME_COLS);
  let columns = [...COLUMNS];
  const fixed = (cols: Column[]): number =>
    cols.filter((c) => c !== 'command').reduce((sum, c) => sum + widths[c], 0) + GAP.length * (cols.length - 1);
  for (const drop of DROP_ORDER) {
    const room = width - fixed(columns);
    if (drop === 'command' ? room >= MIN_COMMAND_COLS : room >= 0) break;
    columns = columns.filter((c) => c !== drop);
  }
  if (columns.includes('command')) widths.command = width - fixed(columns);
  // Only the name is left and it still does not fit: cut it.
  widths.name = Math.min(widths.name, Math.max(0, width - (fixed(columns) - widths.name)));
  return { columns, widths };
}

/**
 * One line of exactly `layout`'s width. `decorate` may wrap a fitted cell in
 * escape sequences (colour), which take no columns.
 */
export function formatRow(cells: Cells, layout: TableLayout, decorate?: (column: Column, text: string) => string): string {
  return layout.columns.map((c) => (decorate ? decorate(c, fitToWidth(cells[c], layout.widths[c])) : fitToWidth(cells[c], layout.widths[c]))).join(GAP);
}

export function headerRow(layout: TableLayout): string {
  return formatRow(HEADERS, layout);
}

// ---- help line ----

export interface HelpItem {
  key: string;
  label: string;
}

/** The keys of the list, in display order. */
export const LIST_HELP: readonly HelpItem[] = [
  { key: 'j/k', label: 'move' },
  { key: 'Enter', label: 'attach' },
  { key: 'v', label: 'view' },
  { key: 'n', label: 'new' },
  { key: 'x', label: 'kill' },
  { key: '/', label: 'filter' },
  { key: 'r', label: 'refresh' },
  { key: 'q', label: 'quit' },
];
/** What a narrow terminal gives up first: the obvious (arrows move) before the essential (Enter, q). */
export const LIST_HELP_DROP_ORDER: readonly string[] = ['r', 'j/k', '/', 'x', 'v', 'n'];

/**
 * The help items that fit `width`, with the separator to use: two spaces when
 * everything fits that way, else one, else items are dropped in `dropOrder`
 * (then from the end) until the rest fits.
 */
export function fitHelp(items: readonly HelpItem[], width: number, dropOrder: readonly string[] = []): { items: HelpItem[]; separator: string } {
  const length = (list: readonly HelpItem[], sep: string): number =>
    list.reduce((sum, i) => sum + displayWidth(i.key) + 1 + displayWidth(i.label), 0) + sep.length * Math.max(0, list.length - 1);
  for (const sep of ['  ', ' ']) if (length(items, sep) <= width) return { items: [...items], separator: sep };
  let kept = [...items];
  for (const key of dropOrder) {
    if (length(kept, ' ') <= width) break;
    kept = kept.filter((i) => i.key !== key);
  }
  while (kept.length > 1 && length(kept, ' ') > width) kept = kept.slice(0, -1);
  return { items: kept, separator: ' ' };
}

// ---- preview ----

/**
 * The bottom of a session's screen that fits `height` rows of `width` columns:
 * trailing blank lines dropped (the cursor's line is usually the last one with
 * text), each line sanitized and cut.
 */
export function previewLines(text: string, width: number, height: number): string[] {
  if (height <= 0) return [];
  const lines = text.split('\n').map((l) => l.replace(/\s+$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-height).map((l) => cutToWidth(sanitize(l), Math.max(0, width)));
}
