/**
 * The identity of this client's terminal (TerminalId in protocol/messages.ts):
 * the tty's device number, and the pid and start time of the tty's session
 * leader (the shell an SSH connection or terminal window started), read from
 * /proc. A new SSH connection or window gets a new pty and a new leader; another
 * attach from the same shell gets the same identity. The start time guards
 * against a recycled pid.
 */
import { fstatSync, readFileSync } from 'node:fs';

/** Field numbers of /proc/PID/stat counted after the ")" that ends the command name. */
const STAT_SESSION_FIELD = 3; // field 6 (session) - 3
const STAT_STARTTIME_FIELD = 19; // field 22 (starttime) - 3

function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** null without a terminal on stdin or without /proc. */
export function terminalId(): string | null {
  if (!process.stdin.isTTY) return null;
  try {
    const rdev = fstatSync(0).rdev;
    const leader = Number(statFields('self')[STAT_SESSION_FIELD]);
    const started = statFields(leader)[STAT_STARTTIME_FIELD];
    return `tty ${rdev} leader ${leader} started ${started}`;
  } catch {
    return null;
  }
}
