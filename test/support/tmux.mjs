/**
 * tmux as the user's terminal: a private tmux server (socket in the sandbox) whose
 * one pane runs an outer bash with the sandbox environment, from which tests run
 * tshpool as a user would, then look at the pane (capture-pane, pane flags).
 *
 *   const tm = await startTmux(t, sb);          // killed with t.after
 *   await tm.type('$TSHPOOL attach main');      // types the line and Enter
 *   await tm.waitText(/\$ $/m);
 *   await tm.flags();                           // { alternate_on: '0', cursor_flag: '1', ... }
 *   await tm.history();                         // every line, scrollback included
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { BIN, NODE, waitUntil } from './sandbox.mjs';

const run = promisify(execFile);

export const OUTER_PROMPT = 'outer$ ';

export async function startTmux(t, sb, { cols = 80, rows = 24, socket: name = 'tmux.sock' } = {}) {
  const socket = sb.path(name);
  const env = { ...sb.env, TSHPOOL: `${NODE} ${BIN}` };
  const rc = sb.path('outer.bashrc');
  writeFileSync(rc, `PS1='${OUTER_PROMPT}'\nunset PROMPT_COMMAND\nHISTFILE=/dev/null\n`);
  const tmux = (...args) => run('tmux', ['-S', socket, ...args], { env });
  await tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'outer', '-x', String(cols), '-y', String(rows), `bash --rcfile ${rc} --noprofile`);
  t.after(() => tmux('kill-server').catch(() => undefined));
  const tm = {
    /** Sends tmux key names (e.g. 'C-Space', 'Enter') or literal text with literal = true. */
    keys: (keys, { literal = false } = {}) => tmux('send-keys', '-t', 'outer', ...(literal ? ['-l'] : []), ...keys),
    /** Types a line into the pane, then Enter. */
    type: async (line) => {
      await tm.keys([line], { literal: true });
      await tm.keys(['Enter']);
    },
    /** The visible pane, with escape sequences for attributes when `ansi`. */
    screen: async ({ ansi = false } = {}) => (await tmux('capture-pane', '-p', ...(ansi ? ['-e'] : []), '-t', 'outer')).stdout,
    /** Every line of the pane's history and screen. */
    history: async () => (await tmux('capture-pane', '-p', '-S', '-', '-t', 'outer')).stdout.split('\n'),
    /** The pane's mode flags (tmux format variables). */
    flags: async () => {
      const names = ['alternate_on', 'cursor_flag', 'mouse_any_flag', 'keypad_cursor_flag', 'keypad_flag', 'cursor_y'];
      const out = (await tmux('display-message', '-p', '-t', 'outer', names.map((n) => `#{${n}}`).join(' '))).stdout.trim().split(' ');
      return Object.fromEntries(names.map((n, i) => [n, out[i]]));
    },
    waitText: (pattern, { timeout = 10_000 } = {}) =>
      waitUntil(async () => pattern.test(await tm.screen()), { timeout, message: `${pattern} in the tmux pane` }).catch(async (err) => {
        err.message += `; pane:\n${await tm.screen()}`;
        throw err;
      }),
  };
  await tm.waitText(/outer\$\s*$/m);
  return tm;
}
