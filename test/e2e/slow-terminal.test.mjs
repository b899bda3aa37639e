/**
 * A slow but live terminal (an SSH link) gets every byte of a flood, in every
 * restore mode and both terminal_handoff settings: the program waits for the
 * terminal (output-pacing.ts) instead of the daemon dropping output. The terminal
 * is a Python pty reading 4 KiB at a time with a pause after each read.
 *
 * At ~800 KB/s the flood is the whole `seq 1 300000` (2.3 MB); at ~100 KB/s it is
 * `seq 1 200000` (1.3 MB: more than the 1 MiB a client may fall behind by, so a
 * drop would show, yet 13 s instead of 23), and the cases run side by side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, NODE, ROOT, makeSandbox } from '../support/sandbox.mjs';
import { stripAnsi } from '../support/pty-term.mjs';

const READER = join(ROOT, 'test', 'support', 'slow-terminal.py');
const RESTORE_MODES = [
  ['screen', '"screen"'],
  ['lines', '{ lines = 200 }'],
  ['simple', '"simple"'],
];
const HANDOFF = [true, false];
const RATES = [
  { label: '800 KB/s', delayS: 0.005, lines: 300_000 },
  { label: '100 KB/s', delayS: 0.04, lines: 200_000 },
];
const CHUNK_BYTES = 4096;

/** Runs the slow terminal on `tshpool attach -c FLOOD slow`; resolves to what it received. */
async function slowFlood(t, { restore, handoff, rate }) {
  const sb = await makeSandbox(t, { config: `session_restore_mode = ${restore}\nterminal_handoff = ${handoff}\n` });
  const out = sb.path('received');
  // The flood waits for Enter, typed once READY is on the terminal, so the whole of it is live output.
  const program = `sh -c 'echo RE""ADY; read x; seq 1 ${rate.lines}; echo FLOOD""-DONE; read y'`;
  const reader = spawn(
    'python3',
    [READER, out, String(CHUNK_BYTES), String(rate.delayS), 'READY', 'FLOOD-DONE', '--', NODE, BIN, 'attach', 'slow', '-c', program],
    { env: { ...sb.env, TIMEOUT_S: process.env.SLOW_TIMEOUT_S ?? '120' }, cwd: sb.home, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  t.after(() => reader.kill('SIGKILL'));
  let stderr = '';
  reader.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => reader.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, `the slow terminal saw FLOOD-DONE (exit ${code}) ${stderr}`);
  return readFileSync(out, 'latin1');
}

for (const rate of RATES) {
  test(`a terminal reading at ${rate.label} gets every line of a flood, in order, in every restore mode and handoff setting`, { concurrency: true }, async (t) => {
    const cases = [];
    for (const [mode, restore] of RESTORE_MODES) {
      for (const handoff of HANDOFF) {
        cases.push(
          t.test(`${mode}, terminal_handoff = ${handoff}`, async (t) => {
            const received = await slowFlood(t, { restore, handoff, rate });
            const tail = received.slice(received.indexOf('READY'));
            const numbers = stripAnsi(tail)
              .split(/\r?\n/)
              .filter((l) => /^\d+$/.test(l))
              .map(Number);
            const firstWrong = numbers.findIndex((n, i) => n !== i + 1);
            assert.equal(firstWrong, -1, `line ${firstWrong + 1} is ${numbers[firstWrong]} (a drop or a repaint in the middle)`);
            assert.equal(numbers.length, rate.lines, 'every line reached the terminal');
          }),
        );
      }
    }
    await Promise.all(cases);
  });
}
