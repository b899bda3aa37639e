/**
 * Start-up, lean harness (all timed in C, from fork):
 *  - warm: `attach` to an existing detached shell session with the server running,
 *    until a command typed at once is answered;
 *  - cold: nothing runs; the client starts the server and a new session;
 *  - list: the list command with the warm session present, start to exit.
 * At each terminal size for warm and cold. Reference: `node -e 0` timed the same
 * way, the floor of any Node client.
 */
import { timeRuns } from '../lean/lean-term.mjs';
import { median, token } from '../util.mjs';
import { detach } from './common.mjs';
import { perSize, sizeLabel, suffixed } from './lean-common.mjs';

/** Time allowed for a client to bring its session to the prompt. */
const TTI_TIMEOUT_MS = 15_000;

/** Runs of `list` and of `node -e 0` per repetition. */
const LIST_RUNS = 5;

/** Starts a lean terminal running the client and resolves its time to interactive (ms from fork). */
async function timeAttach(tool, sb, name, size, fresh) {
  const opts = { ...size, lean: true, ttiMs: TTI_TIMEOUT_MS };
  const term = fresh ? tool.attachNew(sb, name, opts) : tool.attach(sb, name, opts);
  try {
    return { ms: await term.tti(), term };
  } catch (err) {
    await term.kill();
    throw err;
  }
}

async function warm(tool, sb, size, attaches) {
  await sb.reset();
  await tool.createDetached(sb, 'warm', null);
  // An untimed first attach: the session's shell is surely up afterwards.
  const first = await timeAttach(tool, sb, 'warm', size, false);
  await detach(tool, sb, 'warm', first.term);
  const times = [];
  for (let i = 0; i < attaches; i++) {
    const { ms, term } = await timeAttach(tool, sb, 'warm', size, false);
    times.push(ms);
    await detach(tool, sb, 'warm', term);
  }
  return median(times);
}

async function cold(tool, sb, size) {
  await sb.reset();
  const { ms, term } = await timeAttach(tool, sb, `cold-${token(4)}`, size, true);
  await term.kill();
  await sb.reset();
  return ms;
}

export default {
  id: 'attach',
  title: 'Start-up (lean harness)',
  describe: (s) =>
    `warm: \`attach\` to an existing detached shell session with the server running (median of ${s.warmAttaches} per repetition); cold: no server running, the client starts it and a new session; both until a command typed at once is answered, timed in C from fork, at ${s.startupTermSizes.map(sizeLabel).join(', ')}. list: the list command with that session present (median of ${LIST_RUNS}). Reference: \`node -e 0\` timed the same way.`,
  metrics: (s) => [
    ...perSize(s.startupTermSizes, [{ key: 'warm_ms', label: 'warm ms', ratio: true, refKey: 'node_e0_ms', refLabel: '×node -e 0' }]),
    ...perSize(s.startupTermSizes, [{ key: 'cold_ms', label: 'cold ms', ratio: true }]),
    { key: 'list_ms', label: 'list ms', ratio: false, refKey: 'node_e0_ms', refLabel: '×node -e 0' },
    { key: 'node_e0_ms', label: '`node -e 0` ms beside this tool', ratio: false },
  ],
  applies: () => null,

  async reference() {
    return { node_e0_ms: median(await timeRuns(process.execPath, ['-e', '0'], LIST_RUNS, { env: process.env, cwd: process.cwd() })) };
  },

  async rep({ tool, sb, sizes }) {
    // Timed right beside this tool's own figures: on a loaded machine `node -e 0`
    // moves by 2× within a minute, and the targets are ratios to it.
    const out = { node_e0_ms: median(await timeRuns(process.execPath, ['-e', '0'], LIST_RUNS, { env: sb.env, cwd: sb.home })) };
    for (const size of sizes.startupTermSizes) {
      if (tool.attach) {
        Object.assign(out, suffixed(size, { warm_ms: await warm(tool, sb, size, sizes.warmAttaches) }));
        if (tool.listCmd && size === sizes.startupTermSizes[0]) {
          const { argv, okCodes } = tool.listCmd(sb);
          out.list_ms = median(await timeRuns(argv[0], argv.slice(1), LIST_RUNS, { env: sb.env, cwd: sb.home, okCodes }));
        }
      }
      Object.assign(out, suffixed(size, { cold_ms: await cold(tool, sb, size) }));
    }
    return out;
  },
};
