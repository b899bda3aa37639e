#!/usr/bin/env node
// A tshpool wrapper that runs a command some time after a session's client
// disconnects, unless the user comes back (reattaches) or the session ends first.
// The devserver use case: rebuild a repository 30 minutes after the SSH
// connection dropped.
//
//   TSHPOOL_IDLE_AFTER=30m TSHPOOL_IDLE_COMMAND='make -C ~/repo rebuild' \
//     ./examples/run-after-disconnect.mjs attach main
//
// The command line runs through /bin/sh with TSHPOOL_SESSION_NAME set; its output
// is discarded (redirect it in the command line to keep it).
import { spawn } from 'node:child_process';
import { run, parseDuration } from 'tshpool';

const afterMs = parseDuration(process.env.TSHPOOL_IDLE_AFTER ?? '30m');
const command = process.env.TSHPOOL_IDLE_COMMAND;
if (afterMs === null) {
  console.error(`run-after-disconnect: invalid TSHPOOL_IDLE_AFTER ${JSON.stringify(process.env.TSHPOOL_IDLE_AFTER)} (use e.g. 30m)`);
  process.exit(2);
}

/** Pending timers by session name. */
const pending = new Map();

function cancel(name) {
  clearTimeout(pending.get(name));
  pending.delete(name);
}

function runCommand(name) {
  pending.delete(name);
  if (!command) return;
  const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', env: { ...process.env, TSHPOOL_SESSION_NAME: name } });
  child.on('error', () => undefined);
}

process.exitCode = await run(process.argv.slice(2), {
  onClientDisconnect(name, event) {
    // Only when the shell lives on: a session that ended has nothing to come back to.
    if (event.reason === 'exit' || event.reason === 'kill' || event.reason === 'ttl' || event.reason === 'shutdown') return;
    cancel(name);
    const timer = setTimeout(() => runCommand(name), afterMs);
    timer.unref();
    pending.set(name, timer);
  },
  onReattach: (name) => cancel(name),
  onNewSession: (name) => cancel(name),
  onShellDisconnect: (name) => cancel(name),
});
