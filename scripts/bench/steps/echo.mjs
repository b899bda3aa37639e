/** Echo latency, lean harness: single keystrokes into `cat`, timed in C on the terminal, at each size. */
import { percentiles, token } from '../util.mjs';
import { READY_TIMEOUT_MS } from './common.mjs';
import { eachSize, perSize, sizeLabel } from './lean-common.mjs';

/** A keystroke not echoed within this long fails the repetition. */
const KEY_TIMEOUT_MS = 3000;

export default {
  id: 'echo',
  title: 'Echo latency (lean harness)',
  describe: (s) =>
    `${s.echoKeys} single keystrokes into \`cat\` in an attached session on the C terminal, one at a time, at ${s.termSizes.map(sizeLabel).join(', ')}; time from the write on the terminal's pty to the echo on it (µs).`,
  metrics: (s) =>
    perSize(s.termSizes, [
      { key: 'p50_us', label: 'p50 µs', ratio: true },
      { key: 'p90_us', label: 'p90 µs', ratio: false },
      { key: 'p99_us', label: 'p99 µs', ratio: true },
    ]),
  applies: () => null,

  rep: ({ tool, sb, sizes }) =>
    eachSize(tool, sb, sizes.termSizes, `echo-${token(4)}`, async (term) => {
      await term.ready(READY_TIMEOUT_MS, '; exec cat');
      await term.idle(50);
      await term.echo(5, KEY_TIMEOUT_MS); // warm-up, not counted
      await term.idle(50);
      const p = percentiles(await term.echo(sizes.echoKeys, KEY_TIMEOUT_MS));
      return { p50_us: p.p50, p90_us: p.p90, p99_us: p.p99 };
    }),
};
