/**
 * The ratio chart, an SVG written by hand: one group of horizontal bars per
 * figure, one bar per tool, on a log scale where 1× is the reference (the bare pty,
 * or `node -e 0` for warm attach). Lower is better.
 */
const COLORS = { tshpool: '#2563eb', tmux: '#16a34a', screen: '#ea580c', dtach: '#7c3aed' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The figures shown: [label, value(report, tool) -> ratio | null]. */
function series(report) {
  const r = (step, key) => (tool) => report.steps[step]?.results?.[tool]?.ratios?.[key]?.bare ?? null;
  const node = report.steps.attach?.reference?.metrics?.node_e0_ms ?? null;
  const perSize = (sizes, f) => (sizes ?? []).map(({ cols, rows }) => f(`${cols}x${rows}`));
  const o = report.options.sizes;
  return [
    ...perSize(o.floodTermSizes, (z) => [`flood ${z} ×bare`, r('flood', `time_s_${z}`)]),
    ...perSize(o.termSizes, (z) => [`echo p50 ${z} ×bare`, r('echo', `p50_us_${z}`)]),
    ...perSize(o.termSizes, (z) => [`echo p99 ${z} ×bare`, r('echo', `p99_us_${z}`)]),
    ...perSize(o.startupTermSizes, (z) => [
      `warm attach ${z} ×node -e 0`,
      (tool) => {
        const res = report.steps.attach?.results?.[tool]?.metrics;
        const v = res?.[`warm_ms_${z}`];
        const ref = res?.node_e0_ms ?? node;
        return typeof v === 'number' && ref ? v / ref : null;
      },
    ]),
    ...perSize(o.termSizes, (z) => [`slow link ${z} ×bare`, r('slowlink', `time_s_${z}`)]),
    ['drain time ×bare', r('drain', 'time_s')],
    ['scale echo p99 ×bare', r('scale', 'echo_p99_us')],
  ].filter(([, f]) => Object.keys(COLORS).some((t) => f(t) !== null));
}

export function renderChart(report) {
  const tools = Object.keys(COLORS).filter((t) => report.tools[t]?.available);
  const rows = series(report);
  const labelW = 190;
  const plotW = 480;
  const barH = 11;
  const groupGap = 14;
  const top = 46;
  const groupH = tools.length * barH + groupGap;
  const height = top + rows.length * groupH + 40;
  const width = labelW + plotW + 90;
  const values = rows.flatMap(([, f]) => tools.map(f)).filter((v) => typeof v === 'number' && v > 0);
  const lo = Math.min(0.5, ...values.map((v) => v / 2.5));
  const hi = Math.max(2, ...values.map((v) => v * 1.2));
  const xOf = (v) => labelW + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const ticks = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter((t) => t >= lo && t <= hi);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${labelW}" y="16" font-size="13" font-weight="bold">Ratio to the reference (log scale, lower is better)</text>`);
  let lx = labelW;
  for (const t of tools) {
    out.push(`<rect x="${lx}" y="26" width="10" height="10" fill="${COLORS[t]}"/><text x="${lx + 14}" y="35">${esc(t)}</text>`);
    lx += 24 + t.length * 7;
  }
  const plotBottom = top + rows.length * groupH - groupGap + 4;
  for (const t of ticks) {
    const x = xOf(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${plotBottom}" stroke="${t === 1 ? '#000' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`);
    out.push(`<text x="${x}" y="${plotBottom + 14}" text-anchor="middle" fill="#444">${t}×</text>`);
  }
  rows.forEach(([label, f], gi) => {
    const gy = top + gi * groupH;
    out.push(`<text x="${labelW - 8}" y="${gy + (tools.length * barH) / 2 + 4}" text-anchor="end">${esc(label)}</text>`);
    tools.forEach((t, ti) => {
      const v = f(t);
      const y = gy + ti * barH;
      if (typeof v !== 'number' || v <= 0) {
        out.push(`<text x="${labelW + 4}" y="${y + barH - 2}" fill="#999" font-size="9">${esc(t)}: n/a</text>`);
        return;
      }
      // Bars grow from 1× (the reference): right when slower/bigger, left when better.
      const x1 = xOf(1);
      const xv = xOf(v);
      const left = Math.min(x1, xv);
      out.push(`<rect x="${left.toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(xv - x1)).toFixed(1)}" height="${barH - 2}" fill="${COLORS[t]}"><title>${esc(t)} ${esc(label)}: ${v.toFixed(2)}×</title></rect>`);
      const tx = v >= 1 ? xv + 4 : xv - 4;
      out.push(`<text x="${tx.toFixed(1)}" y="${y + barH - 2}" font-size="9"${v >= 1 ? '' : ' text-anchor="end"'}>${v.toFixed(2)}×</text>`);
    });
  });
  out.push(`<text x="${labelW}" y="${height - 8}" fill="#666" font-size="10">1× = bare pty (the command run directly on the lean C terminal); warm attach: 1× = \`node -e 0\`. Lean harness figures.</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
