/**
 * Turns the raw repetitions into the figures: the median of each metric, its
 * ratio to the bare pty and to the best installed peer, and the targets.
 */
import { median } from '../util.mjs';

export const PEERS = ['tmux', 'screen', 'dtach'];

/** Median per metric over repetitions; strings (notes) are collected apart. */
export function aggregate(rounds) {
  const samples = {};
  const notes = [];
  for (const r of rounds) {
    for (const [k, v] of Object.entries(r)) {
      if (k === 'note') {
        notes.push(v);
        continue;
      }
      (samples[k] ??= []).push(v);
    }
  }
  const metrics = {};
  for (const [k, vs] of Object.entries(samples)) {
    const m = median(vs.filter((v) => typeof v === 'number'));
    metrics[k] = m;
  }
  return { metrics, samples, notes };
}

/** Adds `ratios` (to bare and to the best peer) for every ratio metric of every tool of a step. */
export function addRatios(stepResult, metricDefs) {
  const res = stepResult.results;
  for (const def of metricDefs.filter((d) => d.ratio)) {
    const val = (tool) => res[tool]?.metrics?.[def.key] ?? null;
    const bare = val('bare-pty');
    let best = null;
    let bestTool = null;
    for (const p of PEERS) {
      const v = val(p);
      if (typeof v === 'number' && v > 0 && (best === null || v < best)) {
        best = v;
        bestTool = p;
      }
    }
    for (const [tool, r] of Object.entries(res)) {
      const v = val(tool);
      if (typeof v !== 'number') continue;
      r.ratios ??= {};
      r.ratios[def.key] = {
        bare: typeof bare === 'number' && bare > 0 ? v / bare : null,
        best_peer: best ? v / best : null,
        best_peer_tool: bestTool,
      };
    }
  }
}

/** tshpool's targets, each met / missed / n/a. */
export function evaluateTargets(report) {
  const s = report.steps;
  const sizes = report.options.sizes;
  const m = (step, tool, key) => s[step]?.results?.[tool]?.metrics?.[key] ?? null;
  const t = 'tshpool';
  const targets = [];
  const add = (id, text, value, limit, pass, shown) => {
    const status = value === null || value === undefined || limit === null || limit === undefined ? 'n/a' : pass(value, limit) ? 'met' : 'missed';
    targets.push({ id, target: text, value, limit, shown: status === 'n/a' ? 'n/a' : shown(value, limit), status });
  };
  const le = (v, l) => v <= l;
  const x = (v) => `${v.toFixed(2)}×`;
  const r = (a, b) => (a === null || b === null || b === 0 ? null : a / b);

  const us = (v, l) => `${v.toFixed(0)} µs vs ${l.toFixed(0)} µs`;
  const label = ({ cols, rows }) => `${cols}x${rows}`;
  const termSizes = sizes.termSizes ?? [];

  // Lean harness (issue 20): every figure per terminal size.
  for (const z of (sizes.floodTermSizes ?? []).map(label)) {
    const bytes = m('flood', t, `mb_${z}`);
    const bareBytes = m('flood', 'bare-pty', `mb_${z}`);
    add(`flood_${z}`, `flood ${z} ≤ 1.10× bare pty, every byte delivered`, r(m('flood', t, `time_s_${z}`), m('flood', 'bare-pty', `time_s_${z}`)), 1.1, (v, l) => v <= l && bytes >= bareBytes * 0.999, (v) => `${x(v)}, ${bytes?.toFixed(1)} of ${bareBytes?.toFixed(1)} MB`);
  }
  for (const z of termSizes.map(label)) {
    const p50 = m('echo', 'tmux', `p50_us_${z}`);
    const p99 = m('echo', 'tmux', `p99_us_${z}`);
    add(`echo_p50_${z}`, `echo p50 ${z} ≤ 1.3× tmux's`, m('echo', t, `p50_us_${z}`), p50 === null ? null : 1.3 * p50, le, (v) => `${us(v, p50)} (${(v / p50).toFixed(2)}×)`);
    add(`echo_p99_${z}`, `echo p99 ${z} ≤ 2× tmux's`, m('echo', t, `p99_us_${z}`), p99 === null ? null : 2 * p99, le, (v) => `${us(v, p99)} (${(v / p99).toFixed(2)}×)`);
  }
  // `node -e 0` timed beside tshpool's own figures (the step's reference, once per repetition, if absent).
  const nodeLean = m('attach', t, 'node_e0_ms') ?? s.attach?.reference?.metrics?.node_e0_ms ?? null;
  const vsNode = (v, l) => `${v.toFixed(0)} ms vs ${nodeLean.toFixed(0)} ms (${(v / nodeLean).toFixed(2)}×)`;
  for (const z of (sizes.startupTermSizes ?? []).map(label)) {
    add(`attach_warm_${z}`, `warm attach ${z} ≤ 1.2× \`node -e 0\``, m('attach', t, `warm_ms_${z}`), nodeLean === null ? null : 1.2 * nodeLean, le, vsNode);
  }
  add('list', 'list ≤ 1.1× `node -e 0`', m('attach', t, 'list_ms'), nodeLean === null ? null : 1.1 * nodeLean, le, vsNode);
  for (const z of termSizes.map(label)) {
    const bytes = m('slowlink', t, `mb_${z}`);
    const bareBytes = m('slowlink', 'bare-pty', `mb_${z}`);
    add(`slowlink_${z}`, `slow link ${z}: every byte delivered`, bytes, bareBytes === null ? null : bareBytes * 0.999, (v, l) => v >= l, (v) => `${v.toFixed(2)} of ${bareBytes.toFixed(2)} MB in ${m('slowlink', t, `time_s_${z}`)?.toFixed(2)} s (bare pty ${m('slowlink', 'bare-pty', `time_s_${z}`)?.toFixed(2)} s)`);
  }

  add('hook_spin', "echo p50 while a wrapper's hook spins 3 s ≤ 1.2× idle", m('hook-spin', t, 'spin_over_idle_p50'), 1.2, le, (v) => `${m('hook-spin', t, 'spin_p50_us')?.toFixed(0)} µs vs ${m('hook-spin', t, 'idle_p50_us')?.toFixed(0)} µs idle (${x(v)})`);

  // The first round's targets, on the Node harness (kept so the change of harness shows).
  add('flood_node', 'Node harness: flood ≤ 1.10× bare pty', r(m('flood-node', t, 'time_s'), m('flood-node', 'bare-pty', 'time_s')), 1.1, le, x);
  add('drain', 'drain ≤ 1.10× bare pty', r(m('drain', t, 'time_s'), m('drain', 'bare-pty', 'time_s')), 1.1, le, x);
  add('echo_p50_node', "Node harness: echo p50 ≤ tmux's", m('echo-node', t, 'p50_us'), m('echo-node', 'tmux', 'p50_us'), le, us);
  const tmuxP99 = m('echo-node', 'tmux', 'p99_us');
  add('echo_p99_node', "Node harness: echo p99 ≤ 2× tmux's", m('echo-node', t, 'p99_us'), tmuxP99 === null ? null : 2 * tmuxP99, le, us);
  const node = s['attach-node']?.reference?.metrics?.node_e0_ms ?? null;
  add('attach_warm_node', 'Node harness: warm attach ≤ 1.5× `node -e 0`', m('attach-node', t, 'warm_ms'), node === null ? null : 1.5 * node, le, (v, l) => `${v.toFixed(0)} ms vs ${l.toFixed(0)} ms (${(v / node).toFixed(2)}×)`);
  add('attach_cold', 'Node harness: cold start ≤ 400 ms', m('attach-node', t, 'cold_ms'), 400, le, (v) => `${v.toFixed(0)} ms`);
  const last = sizes.memCounts.at(-1);
  add('mem_per_session', '≤ 1 MiB marginal RSS per idle session', m('memory', t, 'rss_per_session'), 1, le, (v) => `${v.toFixed(2)} MiB`);
  add('mem_idle', `${last} idle sessions ≤ 160 MiB RSS`, m('memory', t, `rss_${last}`), 160, le, (v) => `${v.toFixed(1)} MiB`);
  const slow = s.slow?.results?.[t];
  const blockedReps = slow?.samples?.blocked?.filter((b) => b === 1).length ?? null;
  add('slow_blocked', 'slow client: program never blocked', slow?.samples?.blocked ? blockedReps : null, 0, (v) => v === 0, (v) => (v === 0 ? 'never' : `blocked in ${v}/${slow.samples.blocked.length} reps`));
  add('slow_cpu', 'slow client: daemon ≤ 20% of a core during the stall', m('slow', t, 'cpu_pct'), 20, le, (v) => `${v.toFixed(1)}%`);
  const before = m('slow', t, 'probe_before_p99_us');
  add(
    'slow_probe',
    "slow client: other sessions' echo unaffected (p99 in the stall ≤ 2× before + 1 ms)",
    m('slow', t, 'probe_stall_p99_us'),
    before === null ? null : 2 * before + 1000,
    le,
    (v) => `${(v / 1000).toFixed(2)} ms vs ${(before / 1000).toFixed(2)} ms before`,
  );
  const shown = slow?.samples?.resume_ms;
  add('slow_final', 'slow client: final screen shown after resuming (added check)', shown ? shown.filter((v) => typeof v !== 'number').length : null, 0, (v) => v === 0, (v) => (v === 0 ? `yes, ${m('slow', t, 'resume_ms')?.toFixed(0)} ms` : `missing in ${v}/${shown.length} reps`));
  add('scale_list', `scale: list p99 < 100 ms with ${sizes.scaleFlooding} flooding of ${sizes.scaleSessions}`, m('scale', t, 'list_p99_ms'), 100, (v, l) => v < l, (v) => `${v.toFixed(0)} ms`);
  return targets;
}
