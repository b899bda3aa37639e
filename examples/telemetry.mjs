#!/usr/bin/env node
// A tshpool wrapper that reports every session event: it POSTs the event as JSON
// to $TSHPOOL_TELEMETRY_URL without awaiting the request — the most common
// telemetry pattern, and one that used to kill a daemon when the endpoint was
// down (an unhandled rejection). Hooks run in the wrapper's hook host, not in the
// daemon: a failed request is logged and counted (`tshpool status`), and no
// session notices. With $TSHPOOL_TELEMETRY_FILE set it also appends each event
// as one JSON line to that file.
//
//   TSHPOOL_TELEMETRY_URL=http://127.0.0.1:8125/events ./examples/telemetry.mjs attach main
import { appendFile } from 'node:fs/promises';
import { run } from 'tshpool';

const url = process.env.TSHPOOL_TELEMETRY_URL;
const file = process.env.TSHPOOL_TELEMETRY_FILE;

// Appends are chained so that lines keep the events' order even in bursts.
let written = Promise.resolve();

process.exitCode = await run(process.argv.slice(2), {
  onEvent(event) {
    if (url) fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    if (file) written = written.then(() => appendFile(file, `${JSON.stringify(event)}\n`));
    return written;
  },
});
