/**
 * The Node harness (node-pty in the bench process), kept beside the lean one as a
 * second opinion: its figures include ~100 µs of its own event loop per measurement.
 *
 * Flood: `seq 1 N` typed into an attached shell, timed from the Enter on the
 * client's pty until the end marker printed after it shows up there; also the
 * bytes the client received (a multiplexer that drops and repaints sends fewer).
 */
import { nowMs, sleep, token } from '../util.mjs';
import { closeSession, openShell } from './common.mjs';

export default {
  id: 'flood-node',
  title: 'Flood (Node harness, second opinion)',
  describe: (s) =>
    `\`seq 1 ${s.floodLines}; echo END_x\` typed into an attached shell (80x24); time from the Enter to the end marker on the client's pty, and the bytes the client received on the way.`,
  metrics: [
    { key: 'time_s', label: 'time s', ratio: true },
    { key: 'mb', label: 'MB to client', ratio: false },
  ],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    const name = `flood-${token(4)}`;
    const term = await openShell(tool, sb, name);
    try {
      await sleep(100);
      const tag = token(6);
      const done = term.waitFor(`END_${tag}`, sizes.floodTimeoutMs, `END_${tag} after the flood`);
      const b0 = term.bytes;
      const t0 = nowMs();
      term.write(`seq 1 ${sizes.floodLines}; echo EN""D_${tag}\r`);
      const { at, bytes } = await done;
      return { time_s: (at - t0) / 1000, mb: (bytes - b0) / 1e6 };
    } finally {
      await closeSession(tool, sb, name, term);
    }
  },
};
