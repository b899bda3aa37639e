/**
 * Scale: 200 sessions of which 20 flood without a client (`yes`), 179 idle
 * shells and one attached `cat` probe. Measures the list command's latency
 * (tshpool list / tmux ls / screen -ls; a new client process each time) and the
 * echo latency in the probe, several rounds on the same set-up.
 */
import { median, nowMs, percentiles, run } from '../util.mjs';
import { attachShell, createMany, execCat, measureEcho, ready } from './common.mjs';

const names = (n, prefix) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

export default {
  id: 'scale',
  title: 'Scale',
  heavy: true,
  describe: (s) =>
    `${s.scaleSessions} sessions, ${s.scaleFlooding} of them running \`yes\` with no client, one attached \`cat\` probe, the rest idle shells. ${s.listCalls} list commands per round (p50/p99 ms) and ${s.scaleKeys} keystrokes of echo in the probe (µs); median over rounds. \`node -e 0\` is timed in the same state: the floor for a Node client such as \`tshpool list\`.`,
  metrics: [
    { key: 'list_p50_ms', label: 'list p50 ms', ratio: false },
    { key: 'list_p99_ms', label: 'list p99 ms', ratio: true },
    { key: 'echo_p50_us', label: 'echo p50 µs', ratio: true },
    { key: 'echo_p99_us', label: 'echo p99 µs', ratio: true },
    { key: 'list_failures', label: 'list failures', ratio: false },
    { key: 'node_e0_ms', label: '`node -e 0` ms under this load', ratio: false },
    { key: 'sessions', label: 'sessions seen', ratio: false },
  ],
  applies: () => null,

  async run({ tool, sb, sizes }, reps) {
    await sb.reset();
    const idle = sizes.scaleSessions - sizes.scaleFlooding - 1;
    // First session alone (starts the server), then the idle ones, the probe, and the flooders last.
    await createMany(tool, sb, names(1, 'idle'), null, 1);
    await createMany(tool, sb, names(idle, 'idle').slice(1), null, sizes.createConcurrency);
    await tool.createDetached(sb, 'probe', null);
    await createMany(tool, sb, names(sizes.scaleFlooding, 'flood'), ['yes'], sizes.createConcurrency);
    const sessions = tool.countSessions ? await tool.countSessions(sb) : null;

    const probe = tool.attach ? await attachShell(tool, sb, 'probe') : sb.term(sb.shell, []);
    if (!tool.attach) await ready(probe);
    await execCat(probe);
    const rounds = [];
    try {
      for (let r = 0; r < reps; r++) {
        const out = { sessions };
        if (tool.list) {
          const lat = [];
          let failures = 0;
          for (let i = 0; i < sizes.listCalls; i++) {
            const t0 = nowMs();
            // A failed or timed-out list counts with the time it took, and is counted.
            await tool.list(sb).catch(() => failures++);
            lat.push(nowMs() - t0);
          }
          const p = percentiles(lat);
          out.list_p50_ms = p.p50;
          out.list_p99_ms = p.p99;
          out.list_failures = failures;
        }
        // The floor of any Node client on the machine as loaded now (list latency is mostly start-up under load).
        const starts = [];
        for (let i = 0; i < 3; i++) starts.push((await run(process.execPath, ['-e', '0'], { timeoutMs: 30_000 })).ms);
        out.node_e0_ms = median(starts);
        const e = percentiles(await measureEcho(probe, { count: sizes.scaleKeys, timeoutMs: 10_000, gapMs: 5 }));
        out.echo_p50_us = e.p50;
        out.echo_p99_us = e.p99;
        rounds.push(out);
      }
    } finally {
      await probe.kill();
      await sb.reset();
    }
    return rounds;
  },
};
