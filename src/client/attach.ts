/**
 * `tshpool attach`: create or reattach a session and stream it to this terminal.
 * The terminal goes to raw mode and is restored on every way out.
 *
 * At a terminal the client offers it to the daemon (terminal handoff, see
 * TerminalHandoff in protocol/messages.ts): the daemon then reads and writes the
 * terminal itself and this process only passes on resizes and waits for the end.
 * Otherwise (a pipe, handoff off or refused) this process relays every byte.
 */
import { fstatSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { DEFAULT_COLS, DEFAULT_ROWS } from '../consts.js';
import type { Config } from '../config/schema.js';
import type { Reply, TerminalHandoff } from '../protocol/messages.js';
import { forwardedEnv } from './env.js';
import { terminalId } from './terminal-id.js';
import type { DaemonConnection } from './connect.js';
import { ExitCode, UserError } from './errors.js';
import { KeybindingMatcher, viewerLeaves } from '../util/keybindings.js';
import { disableOutputProcessing, hungUpStdio, releaseHungUpTerminal } from '../platform/tty.js';
import { AltScreenTracker, terminalReset } from '../util/terminal-modes.js';

export interface AttachOptions {
  name: string;
  force: boolean;
  background: boolean;
  ttlMs: number | null;
  cmd: string[] | null;
  dir: string | null;
  /** Per-session hook commands (`--hook NAME=CMD`). */
  hooks: Record<string, string[]>;
  config: Config;
}

function terminalSize(): { cols: number; rows: number } {
  for (const s of [process.stdout, process.stderr]) {
    if (s.isTTY && s.columns > 0 && s.rows > 0) return { cols: s.columns, rows: s.rows };
  }
  return { cols: DEFAULT_COLS, rows: DEFAULT_ROWS };
}

/** --dir, else default_dir; `.` and relative paths are relative to this client's cwd. */
function startDir(opts: AttachOptions): string | null {
  const dir = opts.dir ?? opts.config.default_dir;
  return dir === null ? null : resolvePath(process.cwd(), dir);
}

/** The daemon's reason, plus where the directory came from when the user did not give one. */
function withDirSource(reason: string, opts: AttachOptions): string {
  if (opts.dir !== null || opts.config.default_dir === null || !reason.startsWith('directory does not exist')) return reason;
  return `${reason} (default_dir = ${JSON.stringify(opts.config.default_dir)} in the config; fix it there, or give --dir)`;
}

/** What to offer the daemon: our terminal, when stdin and stdout are one (the usual case at a shell). */
function handoffOffer(config: Config): TerminalHandoff | null {
  if (!config.terminal_handoff || !process.stdin.isTTY || !process.stdout.isTTY) return null;
  try {
    if (fstatSync(0).rdev !== fstatSync(1).rdev) return null;
  } catch {
    return null;
  }
  return { keybinding: config.keybinding };
}

/** Raw mode before the first byte of the session is shown, so keys typed now are not echoed locally. */
function enterRawMode(): void {
  process.stdin.setRawMode(true);
  disableOutputProcessing(0);
}

/**
 * Sends an attach or view request and waits for its reply. With a terminal to
 * offer, raw mode starts first — the daemon may write to it as soon as it
 * replies — and ends again when the request does not lead to streaming.
 */
async function request(
  conn: DaemonConnection,
  send: (handoff: TerminalHandoff | null) => void,
  handoff: TerminalHandoff | null,
  early: Buffer[],
): Promise<Reply> {
  if (handoff) enterRawMode();
  send(handoff);
  // Output may arrive in the same read as the reply: listen before awaiting it.
  conn.onData = (d) => early.push(d);
  try {
    const reply = await conn.next();
    if (handoff && !((reply.type === 'attached' || reply.type === 'viewing') && reply.handoff)) process.stdin.setRawMode(false);
    return reply;
  } catch (err) {
    if (handoff) process.stdin.setRawMode(false);
    throw err;
  }
}

/** What a client whose terminal hung up exits with: 128 + SIGHUP, as a shell's job would. */
const HANGUP_EXIT = 128 + 1;

/** `fresh` starts the notice on a new line: after raw mode the cursor may sit mid-line (a prompt). */
const notice = (msg: string, fresh: boolean): void => void process.stderr.write(`${fresh ? '\r\n' : ''}tshpool: ${msg}\n`);

export async function attach(conn: DaemonConnection, opts: AttachOptions): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const size = interactive ? terminalSize() : { cols: DEFAULT_COLS, rows: DEFAULT_ROWS };
  const early: Buffer[] = [];
  const offer = interactive && !opts.background ? handoffOffer(opts.config) : null;
  const send = (handoff: TerminalHandoff | null): void =>
    conn.send({
    type: 'attach',
    name: opts.name,
    force: opts.force,
    background: opts.background,
    ttlMs: opts.ttlMs,
    cmd: opts.cmd,
    dir: startDir(opts),
    rows: size.rows,
    cols: size.cols,
    env: forwardedEnv(opts.config),
    clientPid: process.pid,
    hooks: opts.hooks,
    handoff,
    terminal: terminalId(),
  });
  const reply = await request(conn, send, offer, early);
  switch (reply.type) {
    case 'attached':
      break;
    case 'busy':
      throw new UserError(
        `session '${reply.name}' already has a terminal attached. Use 'tshpool attach -f ${reply.name}' to take it over, or 'tshpool view ${reply.name}' to watch.`,
        ExitCode.Busy,
      );
    case 'refused':
      throw refusal(reply);
    case 'error':
      throw new UserError(withDirSource(reply.reason, opts));
    default:
      throw new UserError(`unexpected reply from the daemon: ${reply.type}`);
  }
  if (opts.background) {
    conn.close();
    return ExitCode.Ok;
  }
  return stream(conn, { name: opts.name, config: opts.config, viewer: false, handedOff: reply.handoff }, interactive, early);
}

/** A decision hook said no: its reason, exit 4. */
function refusal(reply: { name: string; reason: string }): UserError {
  return new UserError(`session '${reply.name}' refused: ${reply.reason}`, ExitCode.Refused);
}

/** `tshpool view NAME`: watch a session read-only. Leave with the detach keys or Ctrl-C. */
export async function view(conn: DaemonConnection, opts: { name: string; config: Config }): Promise<number> {
  const interactive = process.stdin.isTTY === true;
  const size = interactive ? terminalSize() : { cols: DEFAULT_COLS, rows: DEFAULT_ROWS };
  const early: Buffer[] = [];
  const send = (handoff: TerminalHandoff | null): void =>
    conn.send({ type: 'view', name: opts.name, rows: size.rows, cols: size.cols, clientPid: process.pid, handoff, terminal: terminalId() });
  const reply = await request(conn, send, interactive ? handoffOffer(opts.config) : null, early);
  if (reply.type === 'error') throw new UserError(reply.reason);
  if (reply.type === 'refused') throw refusal(reply);
  if (reply.type !== 'viewing') throw new UserError(`unexpected reply from the daemon: ${reply.type}`);
  return stream(conn, { ...opts, viewer: true, handedOff: reply.handoff }, interactive, early);
}

/**
 * Runs the attached (or viewed) session until it exits or this client detaches.
 * With the terminal handed off, the daemon reads keys and writes output itself;
 * this process leaves stdin alone and only reports resizes.
 *
 * Every way out gives the terminal back (util/terminal-modes.ts): cooked mode,
 * then the reset of whatever modes the program set, then the notice. A handed-off
 * terminal has been let go by the daemon before it replies, so nothing of the
 * session's output follows the reset. A terminal that hung up is left alone and
 * the client exits 129 quietly.
 */
function stream(
  conn: DaemonConnection,
  opts: { name: string; config: Config; viewer: boolean; handedOff: boolean },
  interactive: boolean,
  early: Buffer[],
): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const matcher = new KeybindingMatcher(opts.config.keybinding);

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (code: number, message?: string): void => {
      if (finished) return;
      finished = true;
      stdin.off('data', onInput);
      stdin.off('end', onInputEnd);
      stdout.off('resize', onResize);
      process.off('SIGHUP', onHangup);
      process.off('SIGTERM', onTerm);
      process.off('exit', restoreTerminal);
      if (!restoreTerminal() || code === HANGUP_EXIT || hungUpStdio().length > 0) {
        // The terminal is gone: whatever ended the attach, this is a hangup.
        releaseHungUpTerminal();
        code = HANGUP_EXIT;
        message = undefined;
      } else giveTerminalBack();
      stdin.pause();
      conn.onData = null;
      conn.setReplyHandler(null);
      conn.setCloseHandler(null);
      conn.close();
      if (message) notice(message, interactive);
      resolve(code);
    };

    /** Cooked mode again; false when the terminal is gone (EIO). */
    const restoreTerminal = (): boolean => {
      try {
        if (interactive && stdin.isTTY) stdin.setRawMode(false);
        return true;
      } catch {
        return false;
      }
    };
    const modes = new AltScreenTracker();
    const giveTerminalBack = (): void => {
      if (interactive && stdout.isTTY) stdout.write(terminalReset(modes.altScreen));
    };
    // A terminal that went away fails reads and writes with EIO: that is a hangup, not a crash.
    const onTerminalError = (): void => finish(HANGUP_EXIT);

    const write = (data: Buffer): void => {
      modes.push(data);
      // Stop reading the daemon while the terminal is behind: the daemon then
      // resynchronises us instead of queueing without bound.
      if (!stdout.write(data)) {
        conn.socket.pause();
        stdout.once('drain', () => conn.socket.resume());
      }
    };

    const detach = (): void => conn.send({ type: 'detach', names: [] });

    const onInput = (chunk: Buffer): void => {
      const matched = matcher.push(chunk);
      const { output, actions } = matched;
      if (opts.viewer) {
        if (viewerLeaves(matched)) detach();
        return;
      }
      if (output.length > 0) conn.sendData(output);
      if (actions.includes('detach')) detach();
    };
    // No terminal (a script piping input): end of input means detach. At a
    // terminal it means the terminal hung up: leave, and the daemon sees a hangup.
    const onInputEnd = (): void => (interactive ? finish(HANGUP_EXIT) : detach());
    const onResize = (): void => {
      const { cols, rows } = terminalSize();
      conn.send({ type: 'resize', cols, rows });
    };
    // Our terminal went away (SSH dropped): just leave; the daemon sees the hangup.
    const onHangup = (): void => finish(HANGUP_EXIT);
    const onTerm = (): void => finish(128 + 15);

    const onReply = (reply: Reply): void => {
      switch (reply.type) {
        case 'screen':
          modes.altScreen = reply.altScreen;
          return;
        case 'exit':
          if (opts.viewer) finish(ExitCode.Ok, `session '${opts.name}' ended`);
          else finish(reply.signal ? 128 + reply.signal : reply.exitCode);
          return;
        case 'detached':
          finish(
            ExitCode.Ok,
            opts.viewer
              ? `stopped viewing session '${opts.name}'`
              : reply.reason === 'force'
                ? `detached from session '${opts.name}': another terminal took it over with -f`
                : `detached from session '${opts.name}'`,
          );
          return;
        case 'error':
          finish(ExitCode.Error, reply.reason);
          return;
        default:
          return;
      }
    };

    for (const s of [stdin, stdout, process.stderr]) s.on('error', onTerminalError);
    if (interactive && !opts.handedOff) enterRawMode();
    conn.onData = write;
    for (const d of early) write(d);
    process.on('exit', restoreTerminal);
    process.on('SIGHUP', onHangup);
    process.on('SIGTERM', onTerm);
    if (!opts.handedOff) {
      stdin.on('data', onInput);
      stdin.on('end', onInputEnd);
    }
    if (interactive && !opts.viewer) stdout.on('resize', onResize);
    // After the set-up, so that replies that came with `attached` (an `exit`, say) find it done.
    conn.setReplyHandler(onReply);
    conn.setCloseHandler(() => finish(ExitCode.Error, `lost the connection to the daemon; session '${opts.name}' may be gone (see 'tshpool list')`));
    // A session that already ended must not leave stdin reading (the process would never exit).
    if (!finished && !opts.handedOff) stdin.resume();
  });
}
