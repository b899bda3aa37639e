// The daemon log after write errors (issue 15, item 7): lines that cannot be
// written are counted, and the log resumes by itself once it can be written again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { close, mkdtempSync, openSync, readFileSync, rmSync, write, writev } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, LOG_REOPEN_MS } from '../../dist/daemon/log.js';

/** A file system whose writes fail with ENOSPC while `full.on` is set. */
function fakeFs(full) {
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  return {
    open: (path, _flags, _mode, cb) => {
      try {
        cb(null, openSync(path, 'a', 0o600));
      } catch (err) {
        cb(err);
      }
    },
    write: (fd, buf, off, len, pos, cb) => (full.on ? setImmediate(() => cb(enospc())) : write(fd, buf, off, len, pos, cb)),
    writev: (fd, bufs, pos, cb) => (full.on ? setImmediate(() => cb(enospc())) : writev(fd, bufs, pos, cb)),
    close,
  };
}

const until = async (pred, ms = 5000) => {
  const end = Date.now() + ms;
  const holds = () => {
    try {
      return pred();
    } catch {
      return false;
    }
  };
  while (!holds()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a full disk drops and counts lines; the log comes back by itself when space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tshpool-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'd.log');
  const full = { on: false };
  const log = new Logger(file, 'info', fakeFs(full));
  log.info('before');
  await until(() => readFileSync(file, 'utf8').includes('before'));
  full.on = true;
  for (let i = 0; i < 5; i++) log.info(`lost ${i}`);
  await until(() => log.lastError !== null);
  assert.match(log.lastError, /ENOSPC/);
  log.info('while closed');
  await until(() => log.dropped >= 6);
  const droppedWhileFull = log.dropped;
  full.on = false;
  // Reopened within LOG_REOPEN_MS (and a bit), without anyone asking: lines get through again.
  const t0 = Date.now();
  await until(() => (log.info('after'), readFileSync(file, 'utf8').includes('after')), LOG_REOPEN_MS + 2000);
  assert.ok(Date.now() - t0 < LOG_REOPEN_MS + 1000);
  // The error is cleared by the successful write's callback, which may run just after its bytes are readable.
  await until(() => log.lastError === null, 2000);
  await log.close();
  const text = readFileSync(file, 'utf8');
  assert.match(text, /before/);
  assert.doesNotMatch(text, /lost|while closed/);
  assert.equal(droppedWhileFull, 6);
});
