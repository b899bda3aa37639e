// End-to-end: a wrapper program's hooks (test/support/recording-wrapper.mjs) fire
// exactly once per occurrence, in order, with the right event fields, for every
// way a client comes and goes and every way a session ends. The wrapper is the
// sandbox's bin; the daemon it auto-starts is tshpool's own program, which runs
// the wrapper again as its hook host: the hooks never run in the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAlive, makeSandbox, procCmdline, waitUntil } from '../support/sandbox.mjs';
import { PROTOCOL } from '../support/load.mjs';
import {
  DETACH,
  ProtocolClient,
  RECORDING_WRAPPER,
  assertPaired,
  connectThroughStartup,
  makeHookSandbox,
  readRecords,
  daemonStatus,
  specific,
  waitForRecords,
} from '../support/hooks-recorder.mjs';

/** An event without `at` and `seq`, for exact comparison. */
const withoutAt = ({ at, seq, ...rest }) => rest;

/** Bounded wait after a sync point, to show that no further hook call comes. */
const NOTHING_MORE_MS = 300;

test('hooks run in the wrapper\'s hook host, not in the daemon; each fires once per occurrence, in order: new session, busy, detach, hangup, tshpool detach, -f, exit', async (t) => {
  const sb = await makeHookSandbox(t);
  const windows = []; // [from, to] in which each specific event must have happened

  /** Runs `action`, then waits until `n` more specific hook calls are recorded. */
  const step = async (n, action) => {
    const before = specific(readRecords(sb)).length;
    const from = Date.now();
    const result = await action();
    await waitForRecords(sb, (r) => specific(r).length >= before + n, { message: `${n} more hook calls` });
    const to = Date.now();
    for (let i = 0; i < n; i++) windows.push([from, to]);
    return result;
  };

  // New session.
  const a = await step(1, () => sb.attachShell('main'));
  const daemonPid = await sb.daemonPid();
  const argv = procCmdline(daemonPid);
  assert.ok(!argv.includes(RECORDING_WRAPPER), `the daemon is tshpool's own program, not the wrapper: ${JSON.stringify(argv)}`);
  assert.equal(argv.at(-1), 'daemon');
  const { hookHost } = await daemonStatus(sb);
  assert.equal(hookHost.state, 'running');
  assert.ok(procCmdline(hookHost.pid).includes(RECORDING_WRAPPER), 'the hook host runs the wrapper');
  const [{ pid: shellPid }] = await sb.list();

  // Busy: a second client without -f is refused (exit 3).
  const busy = sb.spawnTerm(['attach', 'main']);
  const busyExit = await step(1, () => busy.waitExit());
  assert.equal(busyExit.exitCode, 3, busy.clean);

  // Detach keybinding.
  await step(1, async () => {
    a.write(DETACH);
    assert.equal((await a.waitExit()).exitCode, 0);
  });

  // Reattach, then the client is killed with -9: hangup.
  const c = await step(1, () => sb.attachShell('main'));
  await step(1, () => process.kill(c.pid, 'SIGKILL'));
  await sb.waitForList((l) => l[0]?.status === 'disconnected');

  // Reattach, then `tshpool detach main`.
  const d = await step(1, () => sb.attachShell('main'));
  await step(1, async () => {
    await sb.runOk(['detach', 'main']);
    assert.equal((await d.waitExit()).exitCode, 0);
  });

  // Reattach, then displaced by -f: the old client's disconnect (force), then the new one's reattach.
  const e = await step(1, () => sb.attachShell('main'));
  const f = await step(2, () => sb.attachShell('main', { args: ['-f'] }));
  assert.equal((await e.waitExit()).exitCode, 0);
  assert.match(e.clean, /another terminal took it over with -f/);

  // The shell exits while attached: client_disconnect (exit), then shell_disconnect (exit, exitCode).
  await step(2, async () => {
    f.write('exit 7\r');
    assert.equal((await f.waitExit()).exitCode, 7);
  });
  await sb.waitForList((l) => l.length === 0);

  // Sync point passed; nothing more may come.
  await new Promise((r) => setTimeout(r, NOTHING_MORE_MS));
  const records = readRecords(sb);
  assertPaired(records);
  const calls = specific(records);
  const base = { session: 'main', sessionName: 'main', shellPid };
  assert.deepEqual(
    calls.map((r) => [r.hook, r.name, withoutAt(r.event)]),
    [
      ['onNewSession', 'main', { type: 'session.created', ...base, clientPid: a.pid }],
      ['onBusy', 'main', { type: 'session.busy', ...base, clientPid: busy.pid }],
      ['onClientDisconnect', 'main', { type: 'session.detached', ...base, clientPid: a.pid, reason: 'detach' }],
      ['onReattach', 'main', { type: 'session.attached', ...base, clientPid: c.pid }],
      ['onClientDisconnect', 'main', { type: 'session.detached', ...base, clientPid: c.pid, reason: 'hangup' }],
      ['onReattach', 'main', { type: 'session.attached', ...base, clientPid: d.pid }],
      ['onClientDisconnect', 'main', { type: 'session.detached', ...base, clientPid: d.pid, reason: 'detach' }],
      ['onReattach', 'main', { type: 'session.attached', ...base, clientPid: e.pid }],
      ['onClientDisconnect', 'main', { type: 'session.detached', ...base, clientPid: e.pid, reason: 'force' }],
      ['onReattach', 'main', { type: 'session.attached', ...base, clientPid: f.pid }],
      ['onClientDisconnect', 'main', { type: 'session.detached', ...base, clientPid: f.pid, reason: 'exit' }],
      ['onShellDisconnect', 'main', { type: 'session.removed', ...base, reason: 'exit', exitCode: 7 }],
    ],
  );
  // `at`: when it happened (ms since the epoch), within the step that caused it, never going back.
  calls.forEach((r, i) => {
    const [from, to] = windows[i];
    assert.ok(Number.isInteger(r.event.at) && r.event.at >= from - 5 && r.event.at <= to + 5, `${r.hook} at ${r.event.at} not in [${from}, ${to}]`);
    if (i > 0) assert.ok(r.event.at >= calls[i - 1].event.at, `${r.hook}: at goes back`);
  });
  for (const r of records) assert.equal(r.pid, hookHost.pid, `${r.hook} ran in the hook host`);
  // One sequence for every event, hooks and stream alike: numbered 1, 2, 3... with none missing.
  const seqs = records.filter((r) => r.hook === 'onEvent').map((r) => r.event.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  // The creating attach is announced too (shpool's order: created, then attached), to onEvent only.
  const second = records.filter((r) => r.hook === 'onEvent')[1].event;
  assert.deepEqual(withoutAt(second), { type: 'session.attached', ...base, clientPid: a.pid, created: true });
});

test('a session ending: tshpool kill (attached and detached), --ttl, and a shell that exits while detached', async (t) => {
  const sb = await makeHookSandbox(t);

  const flows = {
    // Killed while attached: client_disconnect (kill), then shell_disconnect (kill, SIGHUP).
    async killAttached() {
      const term = await sb.attachShell('ka');
      await waitForRecords(sb, (r) => r.some((x) => x.name === 'ka'));
      await sb.runOk(['kill', 'ka']);
      const exit = await term.waitExit();
      assert.equal(exit.exitCode, 128 + 1, 'the client reports the shell died of SIGHUP');
      return { clientPid: term.pid };
    },
    // Killed while detached: no client_disconnect.
    async killDetached() {
      await sb.runOk(['attach', '-b', 'kd']);
      await waitForRecords(sb, (r) => r.some((x) => x.name === 'kd'));
      await sb.runOk(['kill', 'kd']);
      return {};
    },
    // TTL expires while attached.
    async ttl() {
      const term = sb.spawnTerm(['attach', '--ttl', '1s', 'tt']);
      await term.waitExit(10_000);
      return { clientPid: term.pid };
    },
    // The shell exits by itself while nobody is attached.
    async exitDetached() {
      await sb.runOk(['attach', '-b', '-c', 'sh -c "sleep 0.5; exit 4"', 'xd']);
      return {};
    },
  };
  const names = { killAttached: 'ka', killDetached: 'kd', ttl: 'tt', exitDetached: 'xd' };
  const results = Object.fromEntries(await Promise.all(Object.entries(flows).map(async ([k, fn]) => [k, await fn()])));
  // Every session is gone and its shell_disconnect recorded.
  await sb.waitForList((l) => l.length === 0);
  await waitForRecords(sb, (r) => Object.values(names).every((n) => r.some((x) => x.name === n && x.hook === 'onShellDisconnect')));
  await new Promise((r) => setTimeout(r, NOTHING_MORE_MS));

  const records = readRecords(sb);
  assertPaired(records);
  const of = (name) => specific(records).filter((r) => r.name === name);
  const shape = (r) => [r.hook, r.event.type, r.event.reason ?? null, r.event.sessionName];

  // Killed while attached.
  const ka = of('ka');
  assert.deepEqual(ka.map(shape), [
    ['onNewSession', 'session.created', null, 'ka'],
    ['onClientDisconnect', 'session.detached', 'kill', 'ka'],
    ['onShellDisconnect', 'session.removed', 'kill', 'ka'],
  ]);
  assert.equal(ka[1].event.clientPid, results.killAttached.clientPid);
  assert.equal(ka[2].event.signal, 1, 'killed by SIGHUP');
  assert.equal(ka[2].event.clientPid, undefined);

  // Killed while detached.
  const kd = of('kd');
  assert.deepEqual(kd.map(shape), [
    ['onNewSession', 'session.created', null, 'kd'],
    ['onShellDisconnect', 'session.removed', 'kill', 'kd'],
  ]);
  assert.equal(kd[1].event.signal, 1);

  // TTL.
  const tt = of('tt');
  assert.deepEqual(tt.map(shape), [
    ['onNewSession', 'session.created', null, 'tt'],
    ['onClientDisconnect', 'session.detached', 'ttl', 'tt'],
    ['onShellDisconnect', 'session.removed', 'ttl', 'tt'],
  ]);
  assert.equal(tt[0].event.clientPid, results.ttl.clientPid);
  assert.equal(tt[1].event.clientPid, results.ttl.clientPid);
  assert.equal(tt[2].event.signal, 1);
  const lived = tt[2].event.at - tt[0].event.at;
  assert.ok(lived >= 950 && lived < 5000, `ttl 1s: the session lived ${lived} ms`);

  // Exit while detached: exitCode 4, no signal, no client_disconnect.
  const xd = of('xd');
  assert.deepEqual(xd.map(shape), [
    ['onNewSession', 'session.created', null, 'xd'],
    ['onShellDisconnect', 'session.removed', 'exit', 'xd'],
  ]);
  assert.equal(xd[1].event.exitCode, 4);
  assert.equal(xd[1].event.signal, undefined);

  // Every session's events carry its shell pid; new_session the creating client's pid.
  for (const name of Object.values(names)) {
    const evs = of(name).map((r) => r.event);
    assert.ok(evs.every((e) => e.session === name && e.sessionName === name), `${name}: session and its alias sessionName`);
    assert.ok(Number.isInteger(evs[0].shellPid) && evs.every((e) => e.shellPid === evs[0].shellPid), `${name}: shellPid`);
    assert.ok(Number.isInteger(evs[0].clientPid), `${name}: new_session clientPid`);
    evs.forEach((e, i) => i > 0 && assert.ok(e.at >= evs[i - 1].at, `${name}: at goes back`));
  }
});

test('daemon shutdown (SIGTERM) ends every session with reason shutdown, and waits for their last (async) hooks', async (t) => {
  const sb = await makeHookSandbox(t, { env: { TSHPOOL_TEST_SLOW: 'onShellDisconnect:300' } });
  await sb.runOk(['attach', '-b', 'bg']);
  const term = await sb.attachShell('fg');
  const daemonPid = await sb.daemonPid();
  await waitForRecords(sb, (r) => r.filter((x) => x.hook === 'onEvent').length === 3);
  process.kill(daemonPid, 'SIGTERM');
  assert.equal((await term.waitExit()).exitCode, 128 + 1);
  await waitUntil(() => !isAlive(daemonPid), { message: 'the daemon to exit' });
  const records = readRecords(sb);
  assertPaired(records);
  const of = (name) => specific(records).filter((r) => r.name === name).map((r) => [r.hook, r.event.reason ?? null]);
  assert.deepEqual(of('bg'), [
    ['onNewSession', null],
    ['onShellDisconnect', 'shutdown'],
  ]);
  assert.deepEqual(of('fg'), [
    ['onNewSession', null],
    ['onClientDisconnect', 'shutdown'],
    ['onShellDisconnect', 'shutdown'],
  ]);
  // The slow last hooks completed before the daemon exited.
  assert.equal(records.filter((r) => r.done && r.hook === 'onShellDisconnect').length, 2, 'both 300 ms onShellDisconnect hooks finished');
});

// Regression test for the start-up race fixed in 061651a: the daemon used to
// listen() (and await chmod() and the start-up lock's release) before serve()
// registered its 'connection' handler; a client connecting in that window got no
// reply to its hello and, having no handshake timeout, hung forever — ~7% of the
// auto-starting commands (`attach` of a wrapper, `list`...). This test keeps
// connecting throughout the daemon's start-up, so some connections land in it.
test('the daemon (started by the wrapper) answers every client, also those that connect while it starts up', async (t) => {
  for (let start = 1; start <= 3; start++) {
    const sb = await makeSandbox(t, { bin: RECORDING_WRAPPER });
    sb.spawnChild(['daemon'], { stdio: 'ignore' });
    const sockets = await connectThroughStartup(sb.socketPath);
    if (Array.isArray(sb.sockets)) sb.sockets.push(...sockets);
    const replies = await Promise.all(
      sockets.map((sock) => {
        const client = new ProtocolClient(sock);
        client.send({ type: 'hello', protocol: PROTOCOL, version: 'x' });
        return client.next(1500).then((m) => m.type, () => null);
      }),
    );
    const unanswered = replies.filter((r) => r !== 'hello').length;
    assert.equal(unanswered, 0, `daemon start ${start}: ${unanswered} of ${sockets.length} connections made during start-up never got a reply to hello`);
    await sb.cleanup();
  }
});
