/**
 * The one-shot session commands: detach, kill, list, version, set-log-level.
 * Each sends one request and turns the reply into output and an exit code.
 */
import { ENV_SESSION_NAME } from '../consts.js';
import type { Reply, SessionInfo } from '../protocol/messages.js';
import { displayWidth } from '../util/display-width.js';
import { formatAge } from '../util/duration.js';
import { VERSION } from '../version.js';
import type { DaemonConnection } from './connect.js';
import { ExitCode, UserError } from './errors.js';

function unexpected(reply: Reply): never {
  if (reply.type === 'error') throw new UserError(reply.reason);
  throw new UserError(`unexpected reply from the daemon: ${reply.type}`);
}

/** Names given, or the session this command runs inside. */
export function namesOrCurrent(names: string[], verb: string): string[] {
  if (names.length > 0) return names;
  const current = process.env[ENV_SESSION_NAME];
  if (current) return [current];
  throw new UserError(`no session to ${verb}: give a session name, or run this inside a tshpool session`);
}

export async function detach(conn: DaemonConnection, names: string[]): Promise<number> {
  conn.send({ type: 'detach', names });
  const reply = await conn.next();
  if (reply.type !== 'detach-result') unexpected(reply);
  const problems: string[] = [];
  if (reply.notFound.length) problems.push(`not found: ${reply.notFound.join(' ')}`);
  if (reply.notAttached.length) problems.push(`not attached: ${reply.notAttached.join(' ')}`);
  for (const p of problems) process.stderr.write(`${p}\n`);
  return problems.length ? ExitCode.Error : ExitCode.Ok;
}

export async function kill(conn: DaemonConnection, names: string[]): Promise<number> {
  conn.send({ type: 'kill', names });
  const reply = await conn.next();
  if (reply.type !== 'kill-result') unexpected(reply);
  if (reply.notFound.length) {
    process.stderr.write(`not found: ${reply.notFound.join(' ')}\n`);
    return ExitCode.Error;
  }
  return ExitCode.Ok;
}

/** Every session: the daemon sends a long list in several frames (`more`). */
export async function fetchSessions(conn: DaemonConnection): Promise<SessionInfo[]> {
  conn.send({ type: 'list' });
  const sessions: SessionInfo[] = [];
  for (;;) {
    const reply = await conn.next();
    if (reply.type !== 'list') unexpected(reply);
    sessions.push(...reply.sessions);
    if (!reply.more) return sessions;
  }
}

/** Left-aligned columns (padded by terminal columns, so CJK names line up) separated by two spaces; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i]!))));
  const pad = (cell: string, width: number): string => cell + ' '.repeat(Math.max(0, width - displayWidth(cell)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell, widths[i]!))).join('  ')).join('\n') + '\n';
}

export function formatSessionTable(sessions: SessionInfo[], now = Date.now()): string {
  const rows = [['NAME', 'STATUS', 'STARTED', 'PID', 'CLIENT PID', 'VIEWERS']];
  for (const s of sessions) {
    rows.push([
      s.name,
      s.status,
      `${formatAge(now - s.started_at_unix_ms)} ago`,
      String(s.pid),
      s.client_pid === null ? '-' : String(s.client_pid),
      String(s.viewers),
    ]);
  }
  return formatTable(rows);
}

export async function list(conn: DaemonConnection, format: 'table' | 'json' | 'names'): Promise<number> {
  const sessions = await fetchSessions(conn);
  if (format === 'json') process.stdout.write(`${JSON.stringify({ sessions })}\n`);
  else if (format === 'names') process.stdout.write(sessions.map((s) => `${s.name}\n`).join(''));
  else process.stdout.write(formatSessionTable(sessions));
  return ExitCode.Ok;
}

export function version(conn: DaemonConnection | null): number {
  process.stdout.write(`tshpool ${VERSION} (client)\n`);
  if (!conn) {
    process.stdout.write('daemon: not running\n');
    return ExitCode.Ok;
  }
  process.stdout.write(`tshpool ${conn.daemonVersion} (daemon, pid ${conn.daemonPid})\n`);
  if (conn.daemonVersion !== VERSION) {
    process.stderr.write(
      `tshpool: warning: the daemon runs version ${conn.daemonVersion} but this client is ${VERSION}; ` +
        'restart the daemon when no session needs it (tshpool kill <sessions>, then kill the daemon).\n',
    );
  }
  return ExitCode.Ok;
}

export async function setLogLevel(conn: DaemonConnection, level: string): Promise<number> {
  conn.send({ type: 'set-log-level', level });
  const reply = await conn.next();
  if (reply.type !== 'ok') unexpected(reply);
  return ExitCode.Ok;
}

export async function capture(conn: DaemonConnection, name: string, scrollback: number, ansi: boolean): Promise<number> {
  conn.send({ type: 'capture', name, scrollback, ansi });
  const reply = await conn.next();
  if (reply.type !== 'capture') unexpected(reply);
  process.stdout.write(reply.text);
  return ExitCode.Ok;
}

export async function send(conn: DaemonConnection, name: string, data: string): Promise<number> {
  conn.send({ type: 'send', name, data });
  const reply = await conn.next();
  if (reply.type !== 'ok') unexpected(reply);
  return ExitCode.Ok;
}
