/**
 * The client's terminal goes away (SSH drop, terminal window closed) while it is
 * attached or viewing: the client exits quietly with 129 (no crash, no core), and
 * the session reports the detach as a hangup — in both terminal_handoff settings.
 * The terminal is a Python pty whose master is closed under the client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, NODE, ROOT, makeSandbox, waitUntil } from '../support/sandbox.mjs';

const HANGUP = join(ROOT, 'test', 'support', 'hangup-terminal.py');

/** Runs `tshpool ARGS` in a pty that is closed once MARK is shown; resolves to how the client ended. */
function underClosingTerminal(sb, args, mark) {
  const child = spawn('python3', [HANGUP, mark, '--', NODE, BIN, ...args], { env: sb.env, cwd: sb.home, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => child.on('exit', () => resolve(JSON.parse(out))));
}

/** The detached events of session `name` so far (`tshpool events --history`). */
async function detachReasons(sb, name) {
  const child = sb.spawnChild(['events', '--session', name, '--history', '50']);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    await waitUntil(() => /session\.detached/.test(out), { timeout: 5000, message: 'a detached event' });
    return out
      .split('\n')
      .filter((l) => l.includes('session.detached'))
      .map((l) => JSON.parse(l).reason);
  } finally {
    child.kill();
  }
}

for (const handoff of [true, false]) {
  for (const cmd of ['attach', 'view']) {
    test(`terminal_handoff = ${handoff}: ${cmd} whose terminal hangs up exits 129 quietly${cmd === 'attach' ? ', reported as a hangup' : ''}`, async (t) => {
      const sb = await makeSandbox(t, { config: `terminal_handoff = ${handoff}\n` });
      await sb.runOk(['attach', '-b', 'h', '-c', "sh -c 'echo HUP\"\"-READY; exec cat'"]);
      await waitUntil(async () => /HUP-READY/.test((await sb.run(['capture', 'h'])).stdout), { message: 'the session to start' });
      const end = await underClosingTerminal(sb, [cmd, 'h'], 'HUP-READY');
      assert.equal(end.sawMark, true, 'the session was shown');
      assert.deepEqual({ exit: end.exit, signal: end.signal, core: end.core }, { exit: 129, signal: undefined, core: false });
      if (cmd === 'attach') assert.deepEqual(await detachReasons(sb, 'h'), ['hangup']);
    });
  }
}
