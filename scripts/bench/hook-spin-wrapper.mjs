#!/usr/bin/env node
// The wrapper the hook-spin step runs tshpool through: its onNewSession spins
// synchronously for $TSHPOOL_BENCH_SPIN_MS (default 3000) for sessions named
// spin-*, the worst a wrapper's hook can do short of crashing. The step measures
// echo in another session meanwhile.
import { run } from '../../dist/index.js';

const spinMs = Number(process.env.TSHPOOL_BENCH_SPIN_MS ?? 3000);

process.exitCode = await run(process.argv.slice(2), {
  onNewSession(name) {
    if (!name.startsWith('spin-')) return;
    const end = Date.now() + spinMs;
    while (Date.now() < end);
  },
});
