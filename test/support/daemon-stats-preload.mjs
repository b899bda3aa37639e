// Preloaded (NODE_OPTIONS=--import=<this file>) by soak runs: the daemon — tshpool's
// own program, which a wrapper's command starts — reports its event-loop delay and
// memory from the inside to $TSHPOOL_LOAD_STATS (see load.mjs). Other processes
// that inherit NODE_OPTIONS (clients, the hook host) are left alone.
import { reportDaemonStats } from './load.mjs';

if (process.env.TSHPOOL_LOAD_STATS && process.argv[process.argv.length - 1] === 'daemon') reportDaemonStats(process.env.TSHPOOL_LOAD_STATS);
