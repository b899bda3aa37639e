/**
 * Opens an attaching client's terminal in the daemon (terminal handoff; see
 * TerminalHandoff in protocol/messages.ts). The tty is found through the
 * client's /proc/PID/fd/0, so only a terminal the client really holds can be
 * taken, and opened by its /dev path, the path libuv reopens it by. The two
 * must be the very same terminal: a client in another mount namespace may hold
 * the /dev/pts/N of another devpts instance, whose device number (rdev) is the
 * same as our /dev/pts/N's. So the opened file must be the client's fd 0 itself:
 * the same devpts instance (st_dev; each devpts mount has its own), inode and
 * rdev; otherwise the handoff is refused and the client relays. (Mount namespaces
 * are not compared as such: a daemon sandboxed by systemd has one of its own, yet
 * sees the same /dev/pts, and this check is what matters.)
 */
import { close, constants, fstat, open, promises as fsp, type Stats } from 'node:fs';
import tty from 'node:tty';
import { promisify } from 'node:util';

const openFd = promisify(open);
const fstatFd = promisify(fstat);

/** Only pseudo-terminals: libuv cannot reopen a console tty non-blocking, so those relay. */
const TTY_PATH = /^\/dev\/pts\/\d+$/;

export class HandoffRefused extends Error {}

/** The same file: the same filesystem instance (st_dev), inode and device. */
export function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.rdev === b.rdev;
}

/** The client's terminal as a stream the daemon reads and writes without blocking. */
export async function openPeerTerminal(pid: number): Promise<tty.ReadStream> {
  const link = `/proc/${pid}/fd/0`;
  let path: string;
  let held;
  try {
    [path, held] = await Promise.all([fsp.readlink(link), fsp.stat(link)]);
  } catch (err) {
    throw new HandoffRefused(`cannot see the client's terminal: ${(err as Error).message}`);
  }
  if (!TTY_PATH.test(path)) throw new HandoffRefused(`the client's input is ${path}, not a pseudo-terminal`);
  const fd = await openFd(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK).catch((err: Error) => {
    throw new HandoffRefused(`cannot open ${path}: ${err.message}`);
  });
  let stream: tty.ReadStream;
  try {
    const st = await fstatFd(fd);
    if (!sameFile(st, held)) throw new HandoffRefused(`${path} here is not the client's terminal (another devpts instance)`);
    if (st.uid !== process.getuid!()) throw new HandoffRefused(`${path} belongs to uid ${st.uid}`);
    if (!tty.isatty(fd)) throw new HandoffRefused(`${path} is not a terminal`);
    stream = new tty.ReadStream(fd);
  } catch (err) {
    close(fd, () => undefined);
    throw err;
  }
  // libuv reopens the tty by its path to get a non-blocking file description of
  // its own, which it closes on destroy; ours is left to us. Had the reopen failed,
  // libuv would write blocking (a slow terminal would stall every session), so
  // that case relays instead.
  const handle = (stream as unknown as { _handle?: { fd?: number; setBlocking?: (b: boolean) => void } })._handle;
  const reopened = typeof handle?.fd === 'number' && handle.fd !== fd;
  if (handle?.fd !== fd) close(fd, () => undefined);
  if (!reopened) {
    stream.destroy();
    throw new HandoffRefused(`cannot reopen ${path} for non-blocking writes`);
  }
  handle.setBlocking?.(false);
  return stream;
}
