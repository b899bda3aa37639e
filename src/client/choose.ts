/**
 * `tshpool choose` (and plain `tshpool` at a terminal): the interactive session
 * picker. Feeds the picker from the daemon — list, capture, kill, and the event
 * stream so it updates by itself — then runs what the user chose (attach, view,
 * or create and attach) in this same process and terminal, after the picker has
 * given the terminal back.
 */
import { constants } from 'node:os';
import { ENV_SESSION_NAME } from '../consts.js';
import type { Config } from '../config/schema.js';
import type { SessionInfo } from '../protocol/messages.js';
import { sessionNameProblem } from '../protocol/names.js';
import { attach, view } from './attach.js';
import { fetchSessions } from './commands.js';
import type { DaemonConnection } from './connect.js';
import { ExitCode, UserError } from './errors.js';
import type { PickerChoice, PickerSession, PickerSource, PickerWatcher } from './picker/types.js';

export interface ChooseOptions {
  /** Opens a new connection to the daemon: it serves one command per connection. */
  connect: () => Promise<DaemonConnection>;
  config: Config;
}

/**
 * Events come in bursts (a kill removes, detaches and disconnects at once): one
 * list request per burst. The first event of a burst schedules it, so a steady
 * stream of events still refreshes at this rate.
 */
const EVENT_REFRESH_DELAY_MS = 100;

/** The picker's view of a session. The daemon tracks no output times yet: attach and detach times stand in for activity. */
export function toPickerSession(s: SessionInfo): PickerSession {
  return {
    name: s.name,
    attached: s.status === 'attached',
    viewers: s.viewers,
    startedAtMs: s.started_at_unix_ms,
    lastActivityMs: Math.max(s.started_at_unix_ms, s.last_connected_at_unix_ms ?? 0, s.last_disconnected_at_unix_ms ?? 0),
    command: s.cmd,
  };
}

/** NO_COLOR (https://no-color.org): present and not empty. */
function colorAllowed(env: NodeJS.ProcessEnv): boolean {
  return !env.NO_COLOR;
}

async function oneRequest<T>(connect: () => Promise<DaemonConnection>, fn: (c: DaemonConnection) => Promise<T>): Promise<T> {
  const conn = await connect();
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}

function replyError(reply: { type: string; reason?: string }): Error {
  return new UserError(reply.type === 'error' && reply.reason ? reply.reason : `unexpected reply from the daemon: ${reply.type}`);
}

/** The daemon as the picker sees it. */
function daemonSource(connect: () => Promise<DaemonConnection>): PickerSource {
  return {
    list: () => oneRequest(connect, fetchSessions).then((sessions) => sessions.map(toPickerSession)),
    preview: (name) =>
      oneRequest(connect, async (c) => {
        c.send({ type: 'capture', name, scrollback: 0, ansi: false });
        const reply = await c.next();
        if (reply.type !== 'capture') throw replyError(reply);
        return reply.text;
      }),
    kill: (name) =>
      oneRequest(connect, async (c) => {
        c.send({ type: 'kill', names: [name] });
        const reply = await c.next();
        if (reply.type !== 'kill-result') throw replyError(reply);
        if (reply.notFound.length > 0) throw new UserError(`'${name}' had ended already`);
      }),
    watch: (watcher) => watchEvents(connect, watcher),
    nameProblem: sessionNameProblem,
  };
}

/** Subscribes to every session event on a connection of its own; returns the unsubscribe. */
function watchEvents(connect: () => Promise<DaemonConnection>, watcher: PickerWatcher): () => void {
  let conn: DaemonConnection | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  connect().then(
    (c) => {
      if (stopped) return c.close();
      conn = c;
      c.setReplyHandler((reply) => {
        if (reply.type === 'event') {
          timer ??= setTimeout(() => {
            timer = null;
            watcher.changed();
          }, EVENT_REFRESH_DELAY_MS);
        } else if (reply.type === 'error') watcher.lost(reply.reason);
      });
      c.setCloseHandler(() => {
        if (!stopped) watcher.lost("the daemon's event stream ended: press r to reconnect");
      });
      c.send({ type: 'events', session: null, history: 0 });
      // Whatever changed between the first list and this subscription.
      watcher.changed();
    },
    (err: Error) => watcher.lost(err.message),
  );
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (conn) {
      conn.setReplyHandler(null);
      conn.setCloseHandler(null);
      conn.close();
    }
  };
}

export async function choose(opts: ChooseOptions): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UserError("'tshpool choose' needs a terminal: run it in an interactive shell (scripts: 'tshpool list', 'tshpool attach NAME')");
  }
  if (process.env.TERM === 'dumb') {
    throw new UserError("'tshpool choose' cannot draw on this terminal (TERM=dumb): use 'tshpool list' and 'tshpool attach NAME'");
  }
  // The first list runs before the picker takes the screen: it starts the daemon if
  // needed, and a failure is an ordinary message in an ordinary terminal.
  const initial = (await oneRequest(opts.connect, fetchSessions)).map(toPickerSession);
  const { pickSession, PickerInterrupted } = await import('./picker/pick-session.js');
  let choice: PickerChoice;
  try {
    choice = await pickSession(daemonSource(opts.connect), {
      color: colorAllowed(process.env),
      initial,
      current: process.env[ENV_SESSION_NAME] ?? null,
    });
  } catch (err) {
    if (err instanceof PickerInterrupted) return 128 + (constants.signals[err.signal] ?? 0);
    throw err;
  }
  if (!choice) return ExitCode.Ok;
  const conn = await opts.connect();
  try {
    switch (choice.action) {
      case 'attach':
      case 'create':
        return await attach(conn, {
          name: choice.name,
          force: choice.force === true,
          background: false,
          ttlMs: null,
          cmd: null,
          dir: null,
          hooks: {},
          config: opts.config,
        });
      case 'view':
        return await view(conn, { name: choice.name, config: opts.config });
    }
  } finally {
    conn.close();
  }
}
