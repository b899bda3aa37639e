#!/usr/bin/env node
/**
 * `npm run bench`: tshpool against tmux, screen, dtach and a bare pty.
 * See scripts/bench/main.mjs and `node scripts/bench.mjs --help`.
 */
import { main } from './bench/main.mjs';

process.exitCode = await main(process.argv.slice(2));
// node-pty handles and forked helpers are gone by now; exit even if a stray handle lingers.
setTimeout(() => process.exit(), 200).unref();
