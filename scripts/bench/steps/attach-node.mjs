/**
 * The Node harness (node-pty in the bench process), kept beside the lean one as a
 * second opinion: its figures include ~100 µs of its own event loop per measurement.
 *
 * Attach: time to interactive, from starting the client on a new pty until a
 * command typed at once has been answered by the session's shell.
 *  - warm: the server/daemon runs and the session exists (a shell, detached);
 *  - cold: nothing runs (the sandbox was emptied); the client starts everything.
 * The reference is `node -e 0`: the floor for any Node client.
 */
import { median, nowMs, run, token } from '../util.mjs';
import { detach, timeToInteractive } from './common.mjs';

export default {
  id: 'attach-node',
  title: 'Attach (Node harness, second opinion)',
  describe: (s) =>
    `warm: \`attach\` to an existing detached shell session with the server running (median of ${s.warmAttaches} per repetition); cold: no server running, the client starts it and a new session. Both until a command typed at once is answered. Reference: \`node -e 0\`.`,
  metrics: [
    { key: 'warm_ms', label: 'warm ms', ratio: true, refKey: 'node_e0_ms', refLabel: '×node -e 0' },
    { key: 'cold_ms', label: 'cold ms', ratio: true },
  ],
  applies: () => null,

  /** `node -e 0`, the floor of a Node client's start-up. */
  async reference() {
    const samples = [];
    for (let i = 0; i < 3; i++) samples.push((await run(process.execPath, ['-e', '0'], { timeoutMs: 10_000 })).ms);
    return { node_e0_ms: median(samples) };
  },

  async rep({ tool, sb, sizes }) {
    const out = {};
    if (tool.attach) {
      await sb.reset();
      await tool.createDetached(sb, 'warm', null);
      // An untimed first attach: the session's shell is surely up afterwards.
      const first = tool.attach(sb, 'warm');
      await timeToInteractive(first, nowMs());
      await detach(tool, sb, 'warm', first);
      const warm = [];
      for (let i = 0; i < sizes.warmAttaches; i++) {
        const t0 = nowMs();
        const term = tool.attach(sb, 'warm');
        try {
          warm.push(await timeToInteractive(term, t0));
        } finally {
          await detach(tool, sb, 'warm', term);
        }
      }
      out.warm_ms = median(warm);
    }
    await sb.reset();
    const t0 = nowMs();
    const term = tool.attachNew(sb, `cold-${token(4)}`);
    try {
      out.cold_ms = await timeToInteractive(term, t0);
    } finally {
      await term.kill();
      await sb.reset();
    }
    return out;
  },
};
