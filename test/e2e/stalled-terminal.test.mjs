/**
 * A terminal that stops reading during a flood (a stopped SSH window) falls
 * behind and its backlog is dropped; once it reads again, every restore mode
 * must show the end of the flood and the prompt — without the user typing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { makeSandbox, waitUntil } from '../support/sandbox.mjs';
import { waitScreen } from '../support/screen.mjs';

const RESTORE_MODES = [
  ['screen', '"screen"'],
  ['lines', '{ lines = 50 }'],
  ['simple', '"simple"'],
];

test('after a drop, every restore mode ends the flood with its last output and the prompt on the screen', { concurrency: true }, async (t) => {
  const cases = [];
  for (const [mode, restore] of RESTORE_MODES) {
    for (const handoff of [true, false]) {
      cases.push(
        t.test(`${mode}, terminal_handoff = ${handoff}`, async (t) => {
          const sb = await makeSandbox(t, { config: `session_restore_mode = ${restore}\nterminal_handoff = ${handoff}\n` });
          const a = await sb.attachShell('st');
          const done = sb.path('h', 'flood-done');
          a.pause();
          a.write(`seq 1 300000; echo FLOOD""-DONE; touch ${done}\r`);
          // The program finishing while the terminal reads nothing means its output was dropped.
          await waitUntil(() => existsSync(done), { timeout: 30_000, message: 'the flood to finish behind a stopped terminal' });
          const since = a.bytes.length;
          a.resume();
          const screen = await waitScreen(
            a,
            (s) => {
              const lines = s.lines();
              const at = lines.lastIndexOf('FLOOD-DONE');
              return at >= 0 && /\$$/.test(lines[at + 1] ?? '') && s.cursor().row === at + 2;
            },
            { since, timeout: 20_000, message: 'FLOOD-DONE and the prompt below it, with the cursor there' },
          );
          assert.ok(screen.lines().some((l) => /^\d+$/.test(l)), 'the last lines of the flood are shown too');
        }),
      );
    }
  }
  await Promise.all(cases);
});
