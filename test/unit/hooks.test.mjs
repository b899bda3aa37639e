// Unit: the pure parts of the hooks — runHook's outcomes, which methods an event
// calls, decision values, composeHooks (every part's error kept, decisions short-
// circuit on the first refusal), and the events table every name derives from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hookMethodsFor, runHook, toDecisionValue, toHookError } from '../../dist/hooks/hooks.js';
import { composeHooks } from '../../dist/hooks/builtin.js';
import { HOOK_COMMAND_NAMES, SESSION_EVENTS, SESSION_EVENT_TYPES } from '../../dist/protocol/events.js';
import { parseRequest } from '../../dist/protocol/messages.js';

const event = (type, extra = {}) => ({ seq: 1, type, session: 's', sessionName: 's', at: 0, ...extra });

test('runHook: a value, a sync throw, a rejection, a non-Error rejection and a timeout each become an outcome', async () => {
  assert.deepEqual((await runHook(() => 7, 100)).value, 7);
  const thrown = await runHook(() => {
    throw new Error('boom');
  }, 100);
  assert.equal(thrown.status, 'error');
  assert.equal(thrown.error.message, 'boom');
  assert.match(thrown.error.stack, /^Error: boom\n/);
  assert.equal((await runHook(async () => Promise.reject(new Error('no')), 100)).error.message, 'no');
  assert.equal((await runHook(() => Promise.reject({ code: 3 }), 100)).error.message, 'non-Error value thrown: {"code":3}');
  let aborted = false;
  const slow = await runHook((signal) => {
    signal.addEventListener('abort', () => (aborted = true));
    return new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 50));
  }, 10);
  assert.equal(slow.status, 'timeout');
  assert.equal(aborted, true, 'the signal is aborted at the timeout');
  await new Promise((r) => setTimeout(r, 60)); // the late rejection is swallowed (no unhandled rejection)
});

test('toHookError: an AggregateError lists each part', () => {
  const e = toHookError(new AggregateError([new Error('a'), new Error('b')], '2 composed hooks failed'));
  assert.equal(e.message, '2 composed hooks failed:\n  [1] a\n  [2] b');
});

test('hookMethodsFor: specific then onEvent; onHook replaces the specific method; a creating attach calls no onReattach', () => {
  const all = new Set(['onNewSession', 'onReattach', 'onEvent']);
  assert.deepEqual(hookMethodsFor(all, event('session.created')), ['onNewSession', 'onEvent']);
  assert.deepEqual(hookMethodsFor(all, event('session.attached')), ['onReattach', 'onEvent']);
  assert.deepEqual(hookMethodsFor(all, event('session.attached', { created: true })), ['onEvent']);
  assert.deepEqual(hookMethodsFor(new Set(['onHook', 'onNewSession', 'onEvent']), event('session.created')), ['onHook', 'onEvent']);
  assert.deepEqual(hookMethodsFor(new Set(['onBusy']), event('session.removed')), []);
});

test('toDecisionValue: nothing and {continue:true} go on, {reject} refuses, anything else is an error', () => {
  assert.deepEqual(toDecisionValue(undefined), { continue: true });
  assert.deepEqual(toDecisionValue({ continue: true }), { continue: true });
  assert.deepEqual(toDecisionValue({ reject: 'no' }), { reject: 'no' });
  for (const bad of [42, 'no', { reject: '' }, { reject: 1 }, { continue: false }]) assert.throws(() => toDecisionValue(bad), /return \{ reject: 'reason' \}/);
});

test('composeHooks: event hooks run every part and keep each part\'s error; decisions stop at the first refusal', async () => {
  const calls = [];
  const composed = composeHooks(
    { onNewSession: () => { calls.push(1); throw new Error('first'); }, onBeforeCreate: () => { calls.push('d1'); } },
    { onNewSession: () => { calls.push(2); return Promise.reject(new Error('second')); }, onBeforeCreate: () => { calls.push('d2'); return { reject: 'full' }; } },
    { onNewSession: () => { calls.push(3); }, onBeforeCreate: () => { calls.push('d3'); } },
  );
  await assert.rejects(composed.onNewSession('s', event('session.created')), (err) => {
    assert.ok(err instanceof AggregateError);
    assert.deepEqual(err.errors.map((e) => e.message), ['part 1: first', 'part 2: second']);
    return true;
  });
  assert.deepEqual(calls.slice(0, 3), [1, 2, 3]);
  const decision = await composed.onBeforeCreate('s', {}, { signal: new AbortController().signal });
  assert.deepEqual(decision, { reject: 'full' });
  assert.deepEqual(calls.slice(3), ['d1', 'd2'], 'the third part is not asked after a refusal');
  const failing = composeHooks({ onBeforeAttach: () => 'yes' });
  await assert.rejects(failing.onBeforeAttach('s', {}, { signal: new AbortController().signal }), /part 1: a decision hook returned "yes"/);
});

test('the events table: every type has a hook and a command; the command names and the protocol derive from it', () => {
  assert.deepEqual(SESSION_EVENT_TYPES, Object.keys(SESSION_EVENTS));
  for (const t of SESSION_EVENT_TYPES) {
    assert.match(SESSION_EVENTS[t].hook, /^on[A-Z]/);
    assert.ok(HOOK_COMMAND_NAMES.includes(SESSION_EVENTS[t].command));
  }
  assert.ok(HOOK_COMMAND_NAMES.includes('before_new_session') && HOOK_COMMAND_NAMES.includes('before_attach'));
  assert.deepEqual(parseRequest({ type: 'events', session: null, history: 0, since: 5, types: ['session.busy'] }), {
    type: 'events',
    session: null,
    history: 0,
    since: 5,
    types: ['session.busy'],
  });
  assert.throws(() => parseRequest({ type: 'events', session: null, history: 0, types: ['session.nope'] }), /unknown event type/);
});
