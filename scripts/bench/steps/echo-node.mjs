/** Echo latency: single keystrokes into `cat` (cooked mode) in an attached session. */
import { percentiles, sleep, token } from '../util.mjs';
import { closeSession, execCat, measureEcho, openShell } from './common.mjs';

export default {
  id: 'echo-node',
  title: 'Echo latency (Node harness, second opinion)',
  describe: (s) =>
    `${s.echoKeys} single keystrokes into \`cat\` in an attached session, one at a time; time from the write on the client's pty to the echo on it (µs).`,
  metrics: [
    { key: 'p50_us', label: 'p50 µs', ratio: true },
    { key: 'p90_us', label: 'p90 µs', ratio: false },
    { key: 'p99_us', label: 'p99 µs', ratio: true },
  ],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    const name = `echo-${token(4)}`;
    const term = await openShell(tool, sb, name);
    try {
      await execCat(term);
      await measureEcho(term, { count: 5 }); // warm-up, not counted
      await sleep(50);
      const p = percentiles(await measureEcho(term, { count: sizes.echoKeys }));
      return { p50_us: p.p50, p90_us: p.p90, p99_us: p.p99 };
    } finally {
      await closeSession(tool, sb, name, term);
    }
  },
};
