/**
 * Drain: the same flood with no client attached. The session runs drain.sh, which
 * stamps the clock before and after the seq, so session start-up is not counted:
 * the figure is how fast the tool consumes a session's output on its own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { token, waitUntil } from '../util.mjs';
import { closeSession } from './common.mjs';

const readNs = (file) => {
  try {
    const s = readFileSync(file, 'utf8').trim();
    return s ? BigInt(s) : null;
  } catch {
    return null;
  }
};

export default {
  id: 'drain',
  title: 'Drain (no client)',
  describe: (s) => `\`seq 1 ${s.floodLines}\` in a session started in the background, no client attached; time measured by the command itself.`,
  metrics: [{ key: 'time_s', label: 'time s', ratio: true }],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    const name = `drain-${token(4)}`;
    const dir = sb.scratch('drain');
    try {
      await tool.createDetached(sb, name, ['sh', join(sb.bin, 'drain.sh'), dir, String(sizes.floodLines)]);
      const end = await waitUntil(() => readNs(join(dir, 'end')), { timeoutMs: sizes.floodTimeoutMs, intervalMs: 10, what: 'the drained flood to finish' });
      const start = readNs(join(dir, 'start'));
      return { time_s: Number(end - start) / 1e9 };
    } finally {
      await closeSession(tool, sb, name);
    }
  },
};
