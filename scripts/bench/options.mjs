/** Command-line options and the sizes of a full and a --quick run. */
import { TOOL_IDS } from './tools/index.mjs';

export const STEP_IDS = ['flood', 'echo', 'attach', 'slowlink', 'hook-spin', 'flood-node', 'drain', 'echo-node', 'attach-node', 'memory', 'slow', 'scale'];

/** Terminal sizes of the lean steps (the flood also at a big 240x67 terminal). */
const TERM_SIZES = [
  { cols: 80, rows: 24 },
  { cols: 160, rows: 50 },
];
const FLOOD_TERM_SIZES = [...TERM_SIZES, { cols: 240, rows: 67 }];

export const USAGE = `Usage: node scripts/bench.mjs [options]

Measures tshpool against tmux, screen and dtach (those installed) and a bare pty.

Options:
  --quick            one repetition, small sizes (CI smoke run, < 60 s)
  --reps N           repetitions of flood, echo, attach and drain, lean and Node harness (default 5; 1 with --quick)
  --heavy-reps N     repetitions of slowlink, memory, slow and scale (default 3; 1 with --quick)
  --only LIST        steps to run, comma-separated: ${STEP_IDS.join(',')}
  --tools LIST       tools to measure, comma-separated: ${TOOL_IDS.join(',')} (bare-pty is always measured)
  --out DIR          where benchmarks.json/.md and benchmarks-chart.svg go
                     (default docs/ for a full run, a temp dir for --quick)
  -h, --help         this help
`;

/** Sizes of one run. Full sizes follow the brief; quick ones keep every step under a few seconds. */
export function sizesFor(quick) {
  return quick
    ? {
        floodLines: 200_000,
        floodTimeoutMs: 20_000,
        termSizes: TERM_SIZES,
        floodTermSizes: FLOOD_TERM_SIZES,
        // Start-up restarts every server per size: one size keeps the smoke run short on a loaded machine.
        startupTermSizes: TERM_SIZES.slice(0, 1),
        slowLinkLines: 20_000,
        echoKeys: 50,
        warmAttaches: 1,
        memCounts: [1, 5, 10],
        longSessions: 2,
        longLines: 1000,
        longWidth: 200,
        settleMs: 300,
        stallMs: 1000,
        slowLines: 200_000,
        slowChunk: 10_000,
        probeKeys: 10,
        scaleSessions: 20,
        scaleFlooding: 2,
        listCalls: 5,
        scaleKeys: 20,
        createConcurrency: 6,
        repTimeoutMs: 30_000,
        heavyTimeoutMs: 45_000,
      }
    : {
        floodLines: 1_500_000,
        floodTimeoutMs: 90_000,
        termSizes: TERM_SIZES,
        floodTermSizes: FLOOD_TERM_SIZES,
        startupTermSizes: TERM_SIZES,
        // 2.29 MB, issue 14's slow-link flood.
        slowLinkLines: 300_000,
        echoKeys: 1000,
        warmAttaches: 3,
        memCounts: [1, 10, 100],
        longSessions: 10,
        longLines: 4000,
        longWidth: 200,
        settleMs: 1500,
        stallMs: 5000,
        slowLines: 3_000_000,
        slowChunk: 100_000,
        probeKeys: 50,
        scaleSessions: 200,
        scaleFlooding: 20,
        listCalls: 15,
        scaleKeys: 100,
        createConcurrency: 8,
        repTimeoutMs: 150_000,
        heavyTimeoutMs: 240_000,
      };
}

export class UsageError extends Error {}

export function parseOptions(argv) {
  const o = { quick: false, reps: null, heavyReps: null, only: [...STEP_IDS], tools: [...TOOL_IDS], out: null, help: false };
  const list = (v, allowed, what) => {
    const items = String(v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => (s === 'bare' ? 'bare-pty' : s));
    if (items.length === 0) throw new UsageError(`--${what} needs a comma-separated list`);
    for (const i of items) if (!allowed.includes(i)) throw new UsageError(`unknown ${what === 'only' ? 'step' : 'tool'} ${JSON.stringify(i)}; known: ${allowed.join(', ')}`);
    return items;
  };
  const int = (v, what) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${what} needs a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], null];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--reps':
        o.reps = int(value(), 'reps');
        break;
      case '--heavy-reps':
        o.heavyReps = int(value(), 'heavy-reps');
        break;
      case '--only':
        o.only = list(value(), STEP_IDS, 'only');
        break;
      case '--tools':
        o.tools = list(value(), TOOL_IDS, 'tools');
        break;
      case '--out':
        o.out = value();
        if (!o.out) throw new UsageError('--out needs a directory');
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(argv[i])}`);
    }
  }
  o.reps ??= o.quick ? 1 : 5;
  o.heavyReps ??= o.quick ? 1 : 3;
  if (!o.tools.includes('bare-pty')) o.tools.unshift('bare-pty');
  o.only = STEP_IDS.filter((s) => o.only.includes(s));
  o.sizes = sizesFor(o.quick);
  return o;
}
