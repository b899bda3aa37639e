// End-to-end: a script (or the CLI's own auto-start, which polls the socket every
// 5-200 ms) that connects the moment a starting daemon's socket accepts must be
// answered like any other client.
//
// A regression test for the start-up race fixed in 061651a: runDaemon() listened
// (claimSocket) and then awaited chmod() and the start-up lock's release before
// serve() installed the 'connection' handler; a connection accepted in between was
// never handled, so its client waited forever for the hello (seen as a first
// `tshpool attach` that hung, ~1 in 30 on a loaded machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, makeSandbox } from '../support/sandbox.mjs';

/** Connects to `path` as soon as anything accepts there (retrying every ms). */
async function connectAsap(path, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await RawClient.connect(path);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nothing accepted on ${path} within ${timeout} ms: ${err.message}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

test('a client that connects the moment the daemon starts accepting gets its hello answered', async (t) => {
  // Several fresh daemons: the window is a few ms wide, and hit most of the time.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const sb = await makeSandbox(t);
    sb.spawnChild(['daemon'], { stdio: 'ignore' });
    const c = await connectAsap(sb.socketPath);
    sb.sockets.push(c);
    c.hello();
    const msgs = await c.waitMessages((m) => m.length >= 1, 2000).catch((err) => {
      throw new Error(`attempt ${attempt}: the daemon accepted the connection but never answered its hello (${err.message})`);
    });
    assert.equal(msgs[0].type, 'hello', `attempt ${attempt}: ${JSON.stringify(msgs[0])}`);
    await sb.cleanup();
  }
});
