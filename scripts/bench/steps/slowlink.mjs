/**
 * Slow link (issue 14): `seq 1 N` (2.3 MB at full size) to a live terminal that
 * reads 4 KiB every 5 ms (~800 KB/s, an ordinary SSH link), on the C terminal.
 * Time from the Enter to the end marker and the bytes delivered: a tool that
 * paces the program delivers every byte; one that drops and repaints delivers less.
 */
import { token } from '../util.mjs';
import { eachSize, perSize, sizeLabel } from './lean-common.mjs';

/** The slow link: this many bytes per read, then this long asleep. */
export const SLOW_LINK = { chunk: 4096, pauseUs: 5000 };

export default {
  id: 'slowlink',
  title: 'Slow link (lean harness)',
  heavy: true,
  describe: (s) =>
    `\`seq 1 ${s.slowLinkLines}\` to an attached terminal that reads ${SLOW_LINK.chunk} bytes every ${SLOW_LINK.pauseUs / 1000} ms (~800 KB/s), at ${s.termSizes.map(sizeLabel).join(', ')}; time from the Enter to the end marker and the MB delivered (the bare pty delivers every byte).`,
  metrics: (s) =>
    perSize(s.termSizes, [
      { key: 'time_s', label: 'time s', ratio: true },
      { key: 'mb', label: 'MB', ratio: false },
    ]),
  applies: () => null,

  rep: ({ tool, sb, sizes }) =>
    eachSize(tool, sb, sizes.termSizes, `slow-${token(4)}`, async (term) => {
      await term.idle(100);
      const r = await term.flood(sizes.slowLinkLines, sizes.floodTimeoutMs, SLOW_LINK);
      return { time_s: r.time_s, mb: r.bytes / 1e6 };
    }),
};
