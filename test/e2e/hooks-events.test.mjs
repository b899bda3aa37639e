// End-to-end: the event stream (`tshpool events`): the events and their fields,
// --session filtering, --history replay, and a subscriber that stops reading being
// dropped without slowing the daemon or the other subscribers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSandbox } from '../support/sandbox.mjs';
import { DETACH, ProtocolClient, attachRequest, ensureDaemon, readLog, startEvents, waitForLog } from '../support/hooks-recorder.mjs';

const shape = (e) => [e.type, e.session, e.reason ?? null];
const withCreated = (e) => [...shape(e), e.created ?? false];

test('tshpool events streams session.created/busy/detached/attached/removed as JSON lines; --session filters; --history replays', async (t) => {
  const sb = await makeSandbox(t);
  await ensureDaemon(sb);
  // A first event, so that seeing it replayed proves each subscription is live.
  await sb.runOk(['attach', '-b', 'pre']);
  const all = startEvents(sb, ['--history', '1']);
  const only = startEvents(sb, ['--session', 'ev', '--history', '5']);
  await all.waitFor((e) => e.length === 1, { message: 'the replayed session.created of pre' });
  assert.deepEqual(all.events.map(shape), [['session.created', 'pre', null]]);
  // `only` may subscribe before or after ev exists: its --history 5 replays what it missed either way.
  const from = Date.now();
  const a = await sb.attachShell('ev');
  await only.waitFor(1);
  const busy = sb.spawnTerm(['attach', 'ev']);
  assert.equal((await busy.waitExit()).exitCode, 3);
  await sb.runOk(['attach', '-b', 'other']);
  a.write(DETACH);
  await a.waitExit();
  const b = await sb.attachShell('ev');
  await sb.runOk(['kill', 'ev', 'other']);
  await b.waitExit();
  const until = Date.now();
  const [{ pid: prePid }] = await sb.list();
  const expected = [
    ['session.created', 'pre', null, false],
    ['session.created', 'ev', null, false],
    // shpool's order: a new session with a client attached is created, then attached.
    ['session.attached', 'ev', null, true],
    ['session.busy', 'ev', null, false],
    ['session.created', 'other', null, false],
    ['session.detached', 'ev', 'detach', false],
    ['session.attached', 'ev', null, false],
  ];
  const events = await all.waitFor((e) => e.filter((x) => x.type === 'session.removed').length === 2, { message: 'both removals' });
  // `kill ev other` ends both at once: their events may interleave; ev's own order is fixed.
  assert.deepEqual(events.slice(0, 7).map(withCreated), expected);
  // One numbering for every event: consecutive, none missing.
  events.forEach((e, i) => assert.equal(e.seq, events[0].seq + i, `seq of event ${i}`));
  const tail = events.slice(7).map(shape);
  assert.deepEqual(tail.filter((e) => e[1] === 'ev'), [
    ['session.detached', 'ev', 'kill'],
    ['session.removed', 'ev', 'kill'],
  ]);
  assert.deepEqual(tail.filter((e) => e[1] === 'other'), [['session.removed', 'other', 'kill']]);
  assert.equal(events.length, 10);

  // Fields.
  const ev = events.filter((e) => e.session === 'ev');
  for (const e of ev) {
    assert.ok(Number.isInteger(e.at) && e.at >= from - 5 && e.at <= until + 5, `${e.type} at ${e.at}`);
    assert.equal(e.shellPid, ev[0].shellPid);
  }
  assert.equal(ev[0].clientPid, a.pid);
  assert.equal(ev[1].clientPid, a.pid);
  assert.equal(ev[2].clientPid, busy.pid);
  assert.equal(ev[3].clientPid, a.pid);
  assert.equal(ev[4].clientPid, b.pid);
  assert.equal(ev[6].signal, 1);
  for (const e of ev) assert.equal(e.sessionName, 'ev', 'sessionName: the alias of session, as hooks see it');
  assert.notEqual(prePid, ev[0].shellPid);

  // --session ev: exactly ev's events, the same objects.
  await only.waitFor((e) => e.length === ev.length);
  assert.deepEqual(only.events, ev);

  // --history N: the last N past events, then live ones.
  const replay = startEvents(sb, ['--history', '3']);
  await replay.waitFor(3);
  assert.deepEqual(replay.events, events.slice(-3));
  await sb.runOk(['kill', 'pre']);
  await replay.waitFor(4);
  assert.deepEqual(shape(replay.events[3]), ['session.removed', 'pre', 'kill']);
  // --history larger than what was kept: everything, in order.
  const everything = startEvents(sb, ['--history', '1000', '--session', 'pre']);
  await everything.waitFor(2);
  assert.deepEqual(everything.events.map(shape), [
    ['session.created', 'pre', null],
    ['session.removed', 'pre', 'kill'],
  ]);
  // --since SEQ: every kept event after it (a subscriber that saw SEQ catches up with no gap).
  const cut = events[4].seq;
  const since = startEvents(sb, ['--since', String(cut)]);
  const caught = await since.waitFor((e) => e.some((x) => x.session === 'pre' && x.type === 'session.removed'));
  assert.deepEqual(caught.map((e) => e.seq), caught.map((_, i) => cut + 1 + i));
  // --type: only those types (comma-separated or repeated).
  const typed = startEvents(sb, ['--history', '1000', '--type', 'session.busy,session.removed']);
  await typed.waitFor(4);
  assert.deepEqual(typed.events.map(shape).slice(0, 4), [['session.busy', 'ev', null], ...tail.filter((e) => e[0] === 'session.removed'), ['session.removed', 'pre', 'kill']]);
  const badType = await sb.run(['events', '--type', 'session.nope']);
  assert.equal(badType.code, 2);
  assert.match(badType.stderr, /unknown event type 'session.nope' \(use session.created, /);
  // status --json counts the events by type and the subscribers.
  const status = JSON.parse((await sb.runOk(['status', '--json'])).stdout);
  assert.equal(status.events.lastSeq, all.events.at(-1).seq);
  assert.equal(status.events.byType['session.busy'], 1);
  assert.equal(status.events.byType['session.removed'], 3);
  assert.equal(status.events.subscribers, 6);
  for (const r of [all, only, replay, everything, since, typed]) assert.equal(r.exit, null, `${r.stderr}`);
});

test('a subscriber that stops reading is dropped; the daemon and the other subscribers carry on', async (t) => {
  const sb = await makeSandbox(t);
  await ensureDaemon(sb);
  // A long name makes each event bigger, so fewer are needed to fill the backlog.
  const name = `busy-${'x'.repeat(59)}`;
  const holder = await sb.attachShell(name);

  // The stalled subscriber: subscribes, then never reads.
  const stalled = await ProtocolClient.open(sb);
  stalled.send({ type: 'events', session: null, history: 0 });
  // A healthy one that reads everything.
  const healthy = await ProtocolClient.open(sb);
  healthy.send({ type: 'events', session: null, history: 0 });
  // Both are subscribed once a marker event reaches the healthy one (subscriptions are handled in order).
  await sb.runOk(['attach', '-b', 'marker']);
  assert.equal((await healthy.next()).event.session, 'marker');
  stalled.sock.pause();
  let stalledClosed = false;
  stalled.sock.once('close', () => (stalledClosed = true));

  // Flood: refused attaches to the held session, each one a session.busy event
  // (~240 bytes on the wire). The kernel buffer absorbs a few hundred KiB first.
  const oneBusy = async () => {
    const c = await ProtocolClient.open(sb);
    c.send(attachRequest(name));
    const reply = await c.next();
    c.close();
    assert.equal(reply.type, 'busy');
  };
  let sent = 0;
  const dropped = () => /dropping an event subscriber that stopped reading/.test(readLog(sb));
  while (!dropped()) {
    assert.ok(sent < 20_000, `no drop after ${sent} events`);
    await Promise.all(Array.from({ length: 50 }, oneBusy));
    sent += 50;
  }
  t.diagnostic(`dropped after ${sent} busy events`);

  // Once the stalled reader resumes it finds the connection closed by the daemon.
  stalled.sock.resume();
  await waitForLog(sb, /dropping an event subscriber/);
  const closed = stalledClosed || (await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    stalled.sock.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  }));
  assert.ok(closed, 'the daemon closed the stalled subscriber');

  // The healthy subscriber got every event and is still subscribed.
  await sb.runOk(['attach', '-b', 'after']);
  const live = [];
  for (;;) {
    const m = await healthy.next();
    live.push(m.event);
    if (m.event.session === 'after') break;
  }
  assert.equal(live.filter((e) => e.type === 'session.busy').length, sent);
  assert.equal(healthy.closed, false);

  // The daemon still serves: list, a new subscriber, the held session.
  assert.deepEqual((await sb.list()).map((s) => s.name).sort(), ['after', 'marker', name].sort());
  const fresh = startEvents(sb, ['--history', '1']);
  await fresh.waitFor(1);
  assert.deepEqual(shape(fresh.events[0]), ['session.created', 'after', null]);
  assert.equal(JSON.parse((await sb.runOk(['status', '--json'])).stdout).events.droppedSubscribers, 1);
  holder.write('echo S$((2+3))S\r');
  await holder.waitFor('S5S');
});
