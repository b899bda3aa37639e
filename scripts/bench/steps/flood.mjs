/**
 * Flood, lean harness: `seq 1 N` typed into an attached shell on the C terminal
 * (lean/leanterm.c), timed in C from the Enter to the end marker, with the bytes
 * the terminal received on the way (a multiplexer that drops and repaints sends
 * fewer). At each terminal size of the run.
 */
import { sizeLabel, perSize, eachSize } from './lean-common.mjs';
import { token } from '../util.mjs';

export default {
  id: 'flood',
  title: 'Flood (lean harness)',
  describe: (s) =>
    `\`seq 1 ${s.floodLines}; echo END_x\` typed into an attached shell on the C terminal, at ${s.floodTermSizes.map(sizeLabel).join(', ')}; time from the Enter to the end marker, and the MB the terminal received.`,
  metrics: (s) =>
    perSize(s.floodTermSizes, [
      { key: 'time_s', label: 'time s', ratio: true },
      { key: 'mb', label: 'MB', ratio: false },
    ]),
  applies: () => null,

  rep: ({ tool, sb, sizes }) =>
    eachSize(tool, sb, sizes.floodTermSizes, `flood-${token(4)}`, async (term) => {
      await term.idle(100);
      const r = await term.flood(sizes.floodLines, sizes.floodTimeoutMs);
      return { time_s: r.time_s, mb: r.bytes / 1e6 };
    }),
};
