/**
 * What the lean-harness steps share: terminal sizes, per-size metric keys, and
 * opening a session on the C terminal (lean/leanterm.c) at a given size.
 */
import { closeSession, READY_TIMEOUT_MS } from './common.mjs';

/** `80x24`: the suffix of a metric measured at that terminal size. */
export const sizeLabel = ({ cols, rows }) => `${cols}x${rows}`;

/** One copy of `defs` per terminal size, keys and labels suffixed with the size. */
export const perSize = (termSizes, defs) =>
  termSizes.flatMap((size) => defs.map((d) => ({ ...d, key: `${d.key}_${sizeLabel(size)}`, label: `${d.label} ${sizeLabel(size)}` })));

/** Suffixes every key of one size's figures with that size. */
export const suffixed = (size, figures) => Object.fromEntries(Object.entries(figures).map(([k, v]) => [k === 'note' ? k : `${k}_${sizeLabel(size)}`, v]));

/** Creates a session with a shell on a lean terminal of `size` and waits until it answers. */
export async function openLean(tool, sb, name, size) {
  const term = tool.attachNew(sb, name, { ...size, lean: true });
  try {
    await term.ready(READY_TIMEOUT_MS);
  } catch (err) {
    await closeSession(tool, sb, name, term);
    throw err;
  }
  return term;
}

/** Runs `measure(term)` on a fresh session of each size; merges the figures, suffixed by size. */
export async function eachSize(tool, sb, termSizes, prefix, measure) {
  const out = {};
  for (const size of termSizes) {
    const name = `${prefix}-${sizeLabel(size)}`;
    const term = await openLean(tool, sb, name, size);
    try {
      Object.assign(out, suffixed(size, await measure(term, size)));
    } finally {
      await closeSession(tool, sb, name, term);
    }
  }
  return out;
}
