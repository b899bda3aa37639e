/**
 * `tshpool events`: prints session events as JSON lines until interrupted.
 * `tshpool status`: the daemon's state and hook counters.
 */
import type { SessionEventType } from '../protocol/events.js';
import type { DaemonStatus } from '../protocol/messages.js';
import type { DaemonConnection } from './connect.js';
import { ExitCode, UserError } from './errors.js';
import { formatAge } from '../util/duration.js';
import { formatTable } from './commands.js';

/** What `tshpool events` asks for. */
export interface EventsQuery {
  session: string | null;
  history: number;
  since: number | null;
  types: SessionEventType[] | null;
}

export function streamEvents(conn: DaemonConnection, q: EventsQuery): Promise<number> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, message?: string): void => {
      if (done) return;
      done = true;
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onInterrupt);
      process.stdout.off('error', onStdoutError);
      conn.setReplyHandler(null);
      conn.setCloseHandler(null);
      conn.close();
      if (message) process.stderr.write(`tshpool: ${message}\n`);
      resolve(code);
    };
    const onInterrupt = (): void => finish(ExitCode.Ok);
    // `tshpool events | head -1`: the reader left; so do we.
    const onStdoutError = (): void => finish(ExitCode.Ok);
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
    process.stdout.on('error', onStdoutError);
    conn.setReplyHandler((reply) => {
      if (reply.type === 'event') process.stdout.write(`${JSON.stringify(reply.event)}\n`);
      else if (reply.type === 'error') finish(ExitCode.Error, reply.reason);
    });
    conn.setCloseHandler(() => finish(ExitCode.Error, 'the event stream ended: the daemon stopped, or this reader fell too far behind and was dropped'));
    conn.send({ type: 'events', session: q.session, history: q.history, since: q.since, types: q.types });
  });
}

/** ", 12 lines dropped (not writable now: ENOSPC...)" when the log lost lines or cannot be written. */
function logHealth(s: DaemonStatus): string {
  const dropped = s.logDropped ?? 0;
  const parts = [dropped ? `${dropped} line${dropped === 1 ? '' : 's'} dropped` : '', s.logError ? `not writable now: ${s.logError}` : ''];
  const text = parts.filter(Boolean).join('; ');
  return text ? ` (${text})` : '';
}

export async function status(conn: DaemonConnection, json: boolean): Promise<number> {
  conn.send({ type: 'status' });
  const reply = await conn.next();
  if (reply.type !== 'status') throw new UserError(reply.type === 'error' ? reply.reason : `unexpected reply from the daemon: ${reply.type}`);
  const s = reply.status;
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return ExitCode.Ok;
  }
  const lines = [
    `daemon:   pid ${s.pid}, version ${s.version}, up ${formatAge(s.uptimeMs)}`,
    `sessions: ${s.sessions}`,
    `socket:   ${s.socket}`,
    `log:      ${s.logFile}${logHealth(s)}`,
    `config:   ${s.config.files.length ? s.config.files.join(', ') : '(defaults, no file)'}, loaded ${formatAge(Date.now() - s.config.loadedAtUnixMs)} ago${s.config.error ? `\n          last reload failed: ${s.config.error}` : ''}`,
  ];
  const turns = s.floodTurns;
  if (turns && (turns.current || turns.waiting.length)) {
    lines.push(`flooding: ${turns.current ?? '-'} (detached, reading)${turns.waiting.length ? `; waiting their turn: ${turns.waiting.join(', ')}` : ''}`);
  }
  lines.push(...hookLines(s));
  process.stdout.write(`${lines.join('\n')}\n`);
  const hooks = Object.entries(s.hooks);
  if (hooks.length) {
    const rows = [['HOOK', 'CALLS', 'ERRORS', 'TIMEOUTS', 'DROPPED', 'MEAN MS', 'LAST ERROR']];
    for (const [name, h] of hooks) {
      rows.push([name, String(h.calls), String(h.errors), String(h.timeouts), String(h.dropped ?? 0), h.meanDurationMs.toFixed(1), h.lastError ?? '-']);
    }
    process.stdout.write(`\n${formatTable(rows)}`);
  }
  return ExitCode.Ok;
}

/** The hook host, decisions and event stream lines of `status`. */
function hookLines(s: DaemonStatus): string[] {
  const out: string[] = [];
  const h = s.hookHost;
  if (h) {
    const crash = h.lastCrash ? `; last crash ${formatAge(Date.now() - h.lastCrash.atUnixMs)} ago: ${h.lastCrash.cause}` : '';
    out.push(
      `hook host: ${h.state}${h.pid ? `, pid ${h.pid}` : ''}, ${h.restarts} restart(s)${crash}`,
      `           ${h.command.at(-1)}; hooks: ${h.methods.join(', ') || '(none)'}`,
      `           queued ${h.queued}, running ${h.inFlight}, dropped ${h.dropped}, escaped errors ${h.escapedErrors}, blocking reports ${h.blockedReports}`,
    );
  } else if (s.hookHost === null) out.push('hook host: none (plain tshpool: no wrapper hooks)');
  const d = s.decisions;
  if (d && d.continued + d.rejected + d.failures > 0) {
    out.push(`decisions: ${d.continued} continued, ${d.rejected} refused, ${d.failures} failed${d.lastFailure ? ` (last: ${d.lastFailure})` : ''}`);
  }
  const e = s.events;
  if (e) out.push(`events:   last seq ${e.lastSeq}, ${e.subscribers} subscriber(s), ${e.droppedSubscribers} dropped`);
  if (s.internalErrors) out.push(`internal errors: ${s.internalErrors} (see the log)`);
  return out;
}
