/**
 * Memory: the server's RSS and PSS (smaps_rollup) with 1/10/100 idle shell
 * sessions, and with 10 sessions that each printed 4000 lines of 200 characters
 * (default scrollback settings of every tool). tshpool: the daemon; tmux: the
 * server; screen and dtach: the sum over their per-session processes; bare pty: a
 * Node process holding the ptys with node-pty (the floor for a Node daemon).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { memoryMiB } from '../procs.mjs';
import { sleep, waitUntil } from '../util.mjs';
import { createMany } from './common.mjs';

const range = (from, to, prefix) => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

export default {
  id: 'memory',
  title: 'Memory',
  heavy: true,
  describe: (s) =>
    `server RSS/PSS (MiB) with ${s.memCounts.join(', ')} idle shell sessions, and with ${s.longSessions} sessions that each printed ${s.longLines} lines of ${s.longWidth} characters; "per session" is the marginal RSS from ${s.memCounts[0]} to ${s.memCounts.at(-1)} idle sessions.`,
  metrics: (s) => [
    ...s.memCounts.flatMap((n) => [
      { key: `rss_${n}`, label: `RSS ${n}`, ratio: n === s.memCounts.at(-1) },
      { key: `pss_${n}`, label: `PSS ${n}`, ratio: false },
    ]),
    { key: 'rss_per_session', label: 'RSS/session', ratio: false },
    { key: 'rss_long', label: `RSS ${s.longSessions}×${s.longLines} lines`, ratio: false },
    { key: 'pss_long', label: `PSS ${s.longSessions}×${s.longLines} lines`, ratio: false },
  ],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    const out = {};
    await sb.reset();
    let created = 0;
    for (const n of sizes.memCounts) {
      // The first session alone: it starts the server/daemon.
      await createMany(tool, sb, range(created, n, 'idle'), null, created === 0 ? 1 : sizes.createConcurrency);
      created = n;
      await sleep(sizes.settleMs);
      const pids = tool.serverPids(sb);
      if (pids.length === 0) throw new Error('no server process found');
      const m = memoryMiB(pids);
      out[`rss_${n}`] = m.rss;
      out[`pss_${n}`] = m.pss;
    }
    const first = sizes.memCounts[0];
    const last = sizes.memCounts.at(-1);
    out.rss_per_session = (out[`rss_${last}`] - out[`rss_${first}`]) / (last - first);

    await sb.reset();
    const dir = sb.scratch('long');
    const names = range(0, sizes.longSessions, 'long');
    await createMany(tool, sb, names, (n) => ['sh', join(sb.bin, 'longlines.sh'), join(dir, n), String(sizes.longLines), String(sizes.longWidth)], sizes.createConcurrency);
    await waitUntil(() => names.every((n) => existsSync(join(dir, n))), { timeoutMs: 60_000, intervalMs: 50, what: 'every session to print its lines' });
    await sleep(sizes.settleMs);
    const m = memoryMiB(tool.serverPids(sb));
    out.rss_long = m.rss;
    out.pss_long = m.pss;
    await sb.reset();
    return out;
  },
};
