/**
 * `tshpool logs [-f] [-n N]`: the daemon's log, read straight from its file (no
 * daemon needed — the log matters most when the daemon is in trouble).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { ExitCode, UserError } from './errors.js';

/** How often `-f` looks for new lines. */
const FOLLOW_POLL_MS = 250;
/** The tail is read from at most this many bytes at the end of the file. */
const TAIL_WINDOW_BYTES = 4 * 1024 * 1024;

async function tailLines(file: string, lines: number): Promise<{ text: string; end: number }> {
  const st = await stat(file);
  const start = Math.max(0, st.size - TAIL_WINDOW_BYTES);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(st.size - start);
    await fh.read(buf, 0, buf.length, start);
    const all = buf.toString('utf8').split('\n');
    if (all[all.length - 1] === '') all.pop();
    const text = lines === 0 ? '' : all.slice(-lines).join('\n');
    return { text: text ? `${text}\n` : '', end: st.size };
  } finally {
    await fh.close();
  }
}

export async function logs(file: string, lines: number, follow: boolean): Promise<number> {
  let position: number;
  try {
    const { text, end } = await tailLines(file, lines);
    process.stdout.write(text);
    position = end;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!follow) throw new UserError(`no daemon log at ${file} yet (the daemon has not run with this socket)`);
      position = 0;
    } else throw new UserError(`cannot read the daemon log ${file}: ${(err as Error).message}`);
  }
  if (!follow) return ExitCode.Ok;
  return new Promise((resolve) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void stat(file)
        .then(async (st) => {
          // Rotated or truncated: start again from the top of the new file.
          if (st.size < position) position = 0;
          if (st.size === position) return;
          await new Promise<void>((done) => {
            const r = createReadStream(file, { start: position, end: st.size - 1 });
            r.on('data', (chunk) => process.stdout.write(chunk));
            r.on('close', () => done());
            r.on('error', () => done());
          });
          position = st.size;
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, FOLLOW_POLL_MS);
    const stop = (): void => {
      clearInterval(timer);
      resolve(ExitCode.Ok);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    process.stdout.once('error', stop);
  });
}
