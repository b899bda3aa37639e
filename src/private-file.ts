/**
 * Opening the log file safely when the user chose where it goes (--log-file),
 * possibly in a directory other users can write (/tmp). Whatever is found at the
 * path, tshpool must neither follow a symlink planted there (to append to, or
 * create, a file of the victim's choosing) nor write into a file someone else
 * owns (and reads). So the file is opened with O_NOFOLLOW and O_NONBLOCK (a FIFO
 * planted there cannot block the open), and what was opened is checked through
 * its descriptor (no race with a rename): a regular file of ours with a single
 * link (made 0600), or a character device such as /dev/null. Its directory must
 * not let others replace entries (writable by others only with the sticky bit).
 *
 * Files tshpool creates by itself live in its private state directory instead
 * (see paths.ts); this is only for the one path a user may point elsewhere.
 */
import { close, closeSync, constants, fchmod, fchmodSync, fstat, fstatSync, lstatSync, open, openSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const openFd = promisify(open);
const fstatFd = promisify(fstat);
const fchmodFd = promisify(fchmod);

/** A log path that must not be used; the message says what is wrong and how to fix it. */
export class UnsafeFileError extends Error {
  override name = 'UnsafeFileError';
}

export const LOG_OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;
export const LOG_FILE_MODE = 0o600;
/** The sticky bit: in such a directory only an entry's owner may rename or remove it. */
const S_ISVTX = 0o1000;

/** Why the opened file must not be written, or null. */
export function openedFileProblem(st: Stats, uid: number): string | null {
  if (st.isCharacterDevice()) return null;
  if (!st.isFile()) return 'it is not a regular file';
  if (st.uid !== uid) return `it belongs to uid ${st.uid}, not to you (uid ${uid})`;
  if (st.nlink !== 1) return `it has ${st.nlink} hard links (another name could point at the same file)`;
  return null;
}

/** Why entries of the directory `dir` (lstat `st`) could be swapped by another user, or null. */
export function directoryProblem(dir: string, st: Stats, uid: number): string | null {
  if (st.uid !== uid && st.uid !== 0) return `its directory ${dir} belongs to uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0 && (st.mode & S_ISVTX) === 0) return `its directory ${dir} is writable by other users without the sticky bit`;
  return null;
}

function refusal(path: string, problem: string): UnsafeFileError {
  return new UnsafeFileError(`refusing to write the log to ${path}: ${problem}. Choose a --log-file in a directory of yours, or remove what is there.`);
}

/**
 * An open that failed: a symlink (ELOOP with O_NOFOLLOW, or EACCES where the
 * kernel protects symlinks in sticky directories) or a file of someone else's is
 * a refusal; anything else (missing directory, full disk) is just unwritable.
 */
function openError(path: string, err: NodeJS.ErrnoException, st: Stats | null, uid: number): Error {
  if (st?.isSymbolicLink()) return refusal(path, 'it is a symbolic link');
  if (st && st.uid !== uid) return refusal(path, `it belongs to uid ${st.uid}, not to you (uid ${uid})`);
  return err;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The client's version (before the daemon exists; may block). Returns the fd; UnsafeFileError when refused. */
export function openLogFileSync(path: string): number {
  const uid = process.getuid!();
  const dirProblem = directoryProblem(dirname(path), lstatSync(dirname(path)), uid);
  if (dirProblem) throw refusal(path, dirProblem);
  let fd: number;
  try {
    fd = openSync(path, LOG_OPEN_FLAGS, LOG_FILE_MODE);
  } catch (err) {
    throw openError(path, err as NodeJS.ErrnoException, lstatOrNull(path), uid);
  }
  try {
    const st = fstatSync(fd);
    const problem = openedFileProblem(st, uid);
    if (problem) throw refusal(path, problem);
    if (st.isFile()) fchmodSync(fd, LOG_FILE_MODE);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The daemon's version (never blocks the event loop). Resolves to the fd, which the caller then owns. */
export async function openLogFile(path: string): Promise<number> {
  const uid = process.getuid!();
  const dirProblem = directoryProblem(dirname(path), await lstat(dirname(path)), uid);
  if (dirProblem) throw refusal(path, dirProblem);
  const fd = await openFd(path, LOG_OPEN_FLAGS, LOG_FILE_MODE).catch(async (err: NodeJS.ErrnoException) => {
    throw openError(path, err, await lstat(path).catch(() => null), uid);
  });
  try {
    const st = await fstatFd(fd);
    const problem = openedFileProblem(st, uid);
    if (problem) throw refusal(path, problem);
    if (st.isFile()) await fchmodFd(fd, LOG_FILE_MODE);
    return fd;
  } catch (err) {
    close(fd, () => undefined);
    throw err;
  }
}
