/**
 * A program's last output must survive its exit, however far behind the reader
 * is. These tests use real ptys: the program writes what fits in the kernel's pty
 * buffer and exits before the reader has read anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { installExitDrain } from '../../dist/daemon/pty-exit-drain.js';

const pty = createRequire(import.meta.url)('node-pty');

/** Blocks this thread (the reader) until `pid` has exited, i.e. its side of the pty is closed. */
function blockUntilExited(pid, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'Z') return;
    } catch {
      return; // reaped
    }
  }
  throw new Error(`process ${pid} did not exit`);
}

/** Spawns `script` in a pty, keeps the reader away until it exited, and returns all it read. */
async function readAfterExit(script, { drain }) {
  const p = pty.spawn('/bin/sh', ['-c', script], { cols: 80, rows: 24, env: { PATH: process.env.PATH }, encoding: null });
  if (drain) assert.equal(installExitDrain(p, () => {}), true, 'node-pty internals as expected');
  const chunks = [];
  p.onData((d) => chunks.push(d));
  const exited = new Promise((resolve) => p.onExit(resolve));
  blockUntilExited(p.pid);
  const { exitCode } = await exited;
  return { exitCode, out: Buffer.concat(chunks).toString() };
}

// 12 KiB: fits in what the kernel buffers for a pty (16–24 KiB here), so the program
// exits unread; more than one read (4 KiB) takes, so a reader that stops early loses some.
const SCRIPT = "i=0; while [ $i -lt 256 ]; do printf '%046d\\n' $i; i=$((i+1)); done; echo END; exit 3";

test('all output a program left in the pty when it exited is read (libuv sees the hangup as end of stream)', async () => {
  for (let round = 0; round < 3; round++) {
    const { exitCode, out } = await readAfterExit(SCRIPT, { drain: true });
    assert.equal(exitCode, 3);
    assert.equal(out.match(/^\d{46}\r$/gm)?.length, 256, `round ${round}: every line arrived`);
    assert.match(out, /END\r\n$/, `round ${round}: the last line arrived`);
  }
});

test('without the drain node-pty loses that output (the test above can fail)', async () => {
  const { out } = await readAfterExit(SCRIPT, { drain: false });
  assert.doesNotMatch(out, /END/, 'node-pty alone now keeps the tail: the drain may no longer be needed');
});
