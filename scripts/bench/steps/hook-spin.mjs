/**
 * Echo while a wrapper's hook spins (issue 17): single keystrokes into `cat` in
 * session A, idle and then while a hook of the daemon's wrapper runs a 3 s
 * synchronous loop. The hooks run in the wrapper's hook host, not in the daemon,
 * so the figure while spinning should match the idle one (target ≤ 1.2×). The
 * other tools have no hooks: for them an unrelated process spins for 3 s, the same
 * load on the machine.
 */
import { join } from 'node:path';
import { ROOT } from '../tools/tshpool.mjs';
import { percentiles, run, token } from '../util.mjs';
import { closeSession, READY_TIMEOUT_MS } from './common.mjs';
import { openLean } from './lean-common.mjs';

const WRAPPER = join(ROOT, 'scripts', 'bench', 'hook-spin-wrapper.mjs');
/** How long the hook (or the other tools' stand-in process) spins. */
const SPIN_MS = 3000;
const KEY_TIMEOUT_MS = 3000;

/** tshpool through the spinning wrapper, on a socket of its own (its daemon is the wrapper's). */
function wrapped(sb, name, size) {
  const env = { TSHPOOL_SOCKET: join(sb.run, 'hook-spin.socket'), TSHPOOL_BENCH_SPIN_MS: String(SPIN_MS) };
  const term = sb.term(process.execPath, [WRAPPER, 'attach', name], { ...size, lean: true, env });
  const spin = () => run(process.execPath, [WRAPPER, 'attach', '-b', `spin-${name}`], { env: { ...sb.env, ...env }, cwd: sb.home, timeoutMs: 30_000 });
  const close = () => run(process.execPath, [WRAPPER, 'kill', name, `spin-${name}`], { env: { ...sb.env, ...env }, cwd: sb.home });
  return { term, spin, close };
}

/** Another tool, with an unrelated process spinning as the stand-in load. */
async function plain(tool, sb, name, size) {
  const term = await openLean(tool, sb, name, size);
  const spin = async () => {
    void run(process.execPath, ['-e', `const e = Date.now() + ${SPIN_MS}; while (Date.now() < e);`], { timeoutMs: SPIN_MS + 10_000 });
  };
  return { term, spin, close: () => closeSession(tool, sb, name, term) };
}

export default {
  id: 'hook-spin',
  title: 'Echo while a hook spins',
  describe: (s) =>
    `${s.echoKeys} keystrokes into \`cat\` at ${s.termSizes[0].cols}x${s.termSizes[0].rows}, idle, then while a hook of the daemon's wrapper spins synchronously for ${SPIN_MS / 1000} s (tshpool; for the others an unrelated process spins); µs.`,
  metrics: [
    { key: 'idle_p50_us', label: 'idle p50 µs', ratio: true },
    { key: 'idle_p99_us', label: 'idle p99 µs', ratio: false },
    { key: 'spin_p50_us', label: 'spinning p50 µs', ratio: true },
    { key: 'spin_p99_us', label: 'spinning p99 µs', ratio: false },
    { key: 'spin_over_idle_p50', label: 'p50 spinning / idle', ratio: false },
  ],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    const size = sizes.termSizes[0];
    const name = `hs-${token(4)}`;
    const { term, spin, close } = tool.id === 'tshpool' ? wrapped(sb, name, size) : await plain(tool, sb, name, size);
    try {
      await term.ready(READY_TIMEOUT_MS, '; exec cat');
      await term.echo(5, KEY_TIMEOUT_MS); // warm-up, not counted
      const idle = percentiles(await term.echo(sizes.echoKeys, KEY_TIMEOUT_MS));
      // tshpool: `attach -b spin-*` returns once the session exists; its hook spins from then on.
      await spin();
      const started = Date.now();
      const busy = percentiles(await term.echo(sizes.echoKeys, KEY_TIMEOUT_MS));
      const within = Date.now() - started < SPIN_MS - 200;
      return {
        idle_p50_us: idle.p50,
        idle_p99_us: idle.p99,
        spin_p50_us: busy.p50,
        spin_p99_us: busy.p99,
        spin_over_idle_p50: Math.round((busy.p50 / idle.p50) * 100) / 100,
        ...(within ? {} : { note: 'the keystrokes outlasted the spin' }),
      };
    } finally {
      await term.kill();
      await close();
    }
  },
};
