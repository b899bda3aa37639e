/**
 * What several steps do through a terminal: open an attached shell session, wait
 * until it answers, turn it into `cat`, measure keystroke echo, and close it.
 *
 * Markers are built so that the echo of the typed command cannot contain them:
 * `echo RE""ADY_x` echoes as typed but prints READY_x.
 */
import { mapLimit, nowMs, sleep, token, withTimeout } from '../util.mjs';

export const READY_TIMEOUT_MS = 15_000;

/** Types a command that prints a fresh marker and waits for the marker. */
export async function ready(term, timeoutMs = READY_TIMEOUT_MS, then = '') {
  const tag = token(6);
  const p = term.waitFor(`READY_${tag}`, timeoutMs, `READY_${tag} (session answering)`);
  term.write(`echo RE""ADY_${tag}${then}\r`);
  return p;
}

/** Waits until the shell in `term` answers; kills the terminal if it does not. */
async function answering(term) {
  try {
    await ready(term);
  } catch (err) {
    await term.kill();
    throw err;
  }
  return term;
}

/** Creates a session with a shell, attached to a new terminal, and waits until the shell answers. */
export const openShell = (tool, sb, name) => answering(tool.attachNew(sb, name));

/** Attaches a new terminal to an existing session and waits until it answers. */
export const attachShell = (tool, sb, name) => answering(tool.attach(sb, name));

/** Replaces the attached shell with `cat` (cooked mode: the tty echoes each keystroke). */
export async function execCat(term) {
  await ready(term, READY_TIMEOUT_MS, '; exec cat');
  await sleep(50);
}

/**
 * Types single keystrokes into `cat` and times each from the write on the
 * terminal's pty to its echo arriving back there. Stops after `count` keystrokes
 * or, with `untilMs`, at that clock time. Every 50 keystrokes an Enter empties the
 * line (cat prints it back; that is waited for but not timed).
 * Returns latencies in microseconds; a keystroke that never echoes is an error.
 */
export async function measureEcho(term, { count = Infinity, untilMs = Infinity, timeoutMs = 3000, gapMs = 0 } = {}) {
  const samples = [];
  let line = '';
  for (let i = 0; i < count && nowMs() < untilMs; i++) {
    const ch = 'xyz'[i % 3];
    const p = term.waitFor(ch, timeoutMs, `echo of keystroke #${i + 1}`);
    const t0 = nowMs();
    term.write(ch);
    const { at } = await p;
    samples.push((at - t0) * 1000);
    line += ch;
    if (line.length >= 50) {
      const back = term.waitFor(line, 2000, 'cat printing the line back').catch(() => null);
      term.write('\r');
      await back;
      line = '';
    }
    if (gapMs) await sleep(gapMs);
  }
  if (line) {
    const back = term.waitFor(line, 2000).catch(() => null);
    term.write('\r');
    await back;
  }
  return samples;
}

/**
 * Types an arithmetic command right after the terminal was started and waits for
 * its result: time to interactive. The result (K*7) never appears in what is
 * typed, and K is fresh each time so a repaint of earlier output cannot match.
 * Returns ms from `t0`.
 */
export async function timeToInteractive(term, t0, timeoutMs = 15_000) {
  let k;
  let expect;
  do {
    k = 1_000_000 + Math.floor(Math.random() * 8_000_000);
    expect = String(k * 7);
  } while (`echo $((${k}*7))`.includes(expect));
  const p = term.waitFor(expect, timeoutMs, `the shell printing ${expect}`);
  // Ctrl-U first: whatever a previous client left on the command line is discarded.
  term.write(`\x15echo $((${k}*7))\r`);
  const { at } = await p;
  return at - t0;
}

/**
 * Detaches the client of session `name`: with the tool's detach command where it
 * has one (tmux detach-client, screen -d, tshpool detach; not timed, and immune
 * to keys lost while a client starts up), else with its detach keys (dtach);
 * kills the client when it has not left after that.
 */
export async function detach(tool, sb, name, term) {
  if (term.exited) return;
  if (tool.detach) {
    await withTimeout(tool.detach(sb, name), 10_000, `detach ${name}`).catch(() => null);
    if (await term.waitExit(2000)) return;
  } else if (tool.detachKeys) {
    for (const key of tool.detachKeys) {
      term.write(key);
      await sleep(30);
    }
    if (await term.waitExit(2000)) return;
  }
  await term.kill();
}

/** Kills the client and the session; never throws. */
export async function closeSession(tool, sb, name, ...terms) {
  for (const t of terms) if (t) await t.kill();
  try {
    await withTimeout(tool.killSession(sb, name), 10_000, `kill session ${name}`);
  } catch {
    // the sandbox reset at the end of the step gets whatever is left
  }
}

/** Creates `names` as background sessions running `argv` (null = shell), a few at a time. */
export async function createMany(tool, sb, names, argv, concurrency) {
  await mapLimit(names, concurrency, (n) => tool.createDetached(sb, n, typeof argv === 'function' ? argv(n) : argv));
}
