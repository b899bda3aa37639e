const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration like `90s`, `30m`, `3h`, `2d`, `1h30m` or `500ms` into
 * milliseconds. Every part needs a unit (a bare number is ambiguous and refused);
 * units go from large to small without repeats. Returns null when `text` is not a duration.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const order = ['d', 'h', 'm', 's', 'ms'];
  let total = 0;
  let lastRank = -1;
  let consumed = 0;
  for (let match = part.exec(trimmed); match; match = part.exec(trimmed)) {
    const [, amount, unit] = match as unknown as [string, string, string];
    const rank = order.indexOf(unit);
    if (rank <= lastRank) return null;
    lastRank = rank;
    total += Number(amount) * UNIT_MS[unit]!;
    consumed = part.lastIndex;
  }
  if (consumed !== trimmed.length) return null;
  const ms = Math.round(total);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

/** A short human form of a duration for tables: `45s`, `12m`, `3h`, `2d`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}
