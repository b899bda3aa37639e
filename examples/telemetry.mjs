#!/usr/bin/env node
// A tshpool wrapper that records every session event as one JSON line.
//
//   TSHPOOL_TELEMETRY_FILE=~/tshpool-events.jsonl ./examples/telemetry.mjs attach main
//
// Use it exactly like `tshpool`: the daemon it starts is this program, so the
// hook runs in the daemon. Writes are async appends, chained so lines keep the
// events' order even in bursts: the hook never blocks the daemon.
import { appendFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { run } from 'tshpool';

const file = process.env.TSHPOOL_TELEMETRY_FILE || join(homedir(), '.tshpool-telemetry.jsonl');

let written = Promise.resolve();

process.exitCode = await run(process.argv.slice(2), {
  onEvent: (event) => {
    const line = `${JSON.stringify(event)}\n`;
    written = written.catch(() => undefined).then(() => appendFile(file, line));
    return written;
  },
});
