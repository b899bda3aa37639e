#!/usr/bin/env node
// A tshpool wrapper program for the hook tests: `tshpool` with a hooks object
// that records every call, as a real user's wrapper would be written.
//
//   TSHPOOL_TEST_RECORD=/tmp/x/record.jsonl node test/support/recording-wrapper.mjs attach main
//
// Each hook call appends one JSON line {hook, name, event, pid} to
// $TSHPOOL_TEST_RECORD (appendFileSync, so lines are in call order; the pid is the
// process the hook ran in: the wrapper's hook host, never the daemon). onEvent is
// recorded as {hook: 'onEvent', name: event.session, event}.
//
// Misbehaviours, each naming one hook (onNewSession, ..., onEvent); the call is
// recorded first, then:
//   TSHPOOL_TEST_THROW=<hook>        throws synchronously
//   TSHPOOL_TEST_REJECT=<hook>       returns a rejected promise
//   TSHPOOL_TEST_HANG=<hook>         returns a promise that never settles
//   TSHPOOL_TEST_SLOW=<hook>:<ms>    returns a promise resolved after ms (then records {hook, done: true})
// Records carry `preload` when a --import preload set globalThis.__tshpoolTestPreload.
// TSHPOOL_TEST_VICTIM=<name>: the misbehaviours below act only for that session.
//   TSHPOOL_TEST_LATE_THROW=<hook>   throws from a timer 10 ms later (an uncaught exception)
//   TSHPOOL_TEST_UNHANDLED=<hook>    starts a rejection nobody awaits (an unhandled rejection)
//   TSHPOOL_TEST_EXIT=<hook>         calls process.exit(1)
//   TSHPOOL_TEST_SPIN=<hook>:<ms>    spins synchronously for ms, then records {hook, spun: <ms since epoch>}
//   TSHPOOL_TEST_HOG=<hook>          allocates until the heap is exhausted
// Each of those acts only while $TSHPOOL_TEST_ONCE_FILE does not exist (then creates it), so
// the restarted hook host behaves.
// Decisions (onBeforeCreate / onBeforeAttach, recorded as {hook, name, request}):
//   TSHPOOL_TEST_DECIDE=reject:<reason> | throw | hang | bad   for every decision
// Context:
//   TSHPOOL_TEST_HANDLE=1   onNewSession also uses its context's session handle: sends
//                           `echo HANDLE$((40+2))\r`, captures (again every 50 ms, up to 10 s, until
//                           HANDLE42 shows), lists, and records {hook: 'handle', name, capture, list}
//   TSHPOOL_TEST_ONHOOK=1   the hooks also define onHook(event), recorded as {hook: 'onHook', name, event}
// Built-in hooks:
//   TSHPOOL_TEST_COMPOSE=1   hooks = composeHooks(<every method throws>, <the recorder>)
//   TSHPOOL_TEST_LOGGING=1   hooks = composeHooks(new LoggingHooks(), <the recorder>)
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { run, composeHooks, LoggingHooks } from 'tshpool';

const HOOKS = ['onNewSession', 'onReattach', 'onBusy', 'onClientDisconnect', 'onShellDisconnect', 'onViewerJoin', 'onViewerLeave', 'onEvent'];
const file = process.env.TSHPOOL_TEST_RECORD;
const env = process.env;
const [slowHook, slowMs] = (env.TSHPOOL_TEST_SLOW ?? '').split(':');

function record(entry) {
  const preload = globalThis.__tshpoolTestPreload;
  if (file) appendFileSync(file, `${JSON.stringify({ ...entry, pid: process.pid, ...(preload ? { preload } : {}) })}\n`);
}

/** The one-shot misbehaviours act once per test (the restarted host must behave). */
function once() {
  const flag = env.TSHPOOL_TEST_ONCE_FILE;
  if (!flag) return true;
  if (existsSync(flag)) return false;
  writeFileSync(flag, String(process.pid));
  return true;
}

function misbehave(hook, name) {
  if (env.TSHPOOL_TEST_VICTIM && name !== env.TSHPOOL_TEST_VICTIM) return undefined;
  const [spinHook, spinMs] = (env.TSHPOOL_TEST_SPIN ?? '').split(':');
  if (env.TSHPOOL_TEST_LATE_THROW === hook && once()) setTimeout(() => { throw new Error(`test: ${hook} threw late`); }, 10);
  if (env.TSHPOOL_TEST_UNHANDLED === hook && once()) void Promise.reject(new Error(`test: ${hook} left a rejection unhandled`));
  if (env.TSHPOOL_TEST_EXIT === hook && once()) process.exit(1);
  if (spinHook === hook && once()) {
    const end = Date.now() + Number(spinMs);
    while (Date.now() < end);
    record({ hook, name, spun: Date.now() });
  }
  if (env.TSHPOOL_TEST_HOG === hook && once()) {
    const hoard = [];
    for (;;) hoard.push(new Array(1e6).fill(hoard.length));
  }
  if (env.TSHPOOL_TEST_THROW === hook) throw new Error(`test: ${hook} threw on purpose`);
  if (env.TSHPOOL_TEST_REJECT === hook) return Promise.reject(new Error(`test: ${hook} rejected on purpose`));
  if (env.TSHPOOL_TEST_HANG === hook) return new Promise(() => undefined);
  if (slowHook === hook) {
    return new Promise((resolve) => setTimeout(resolve, Number(slowMs))).then(() => record({ hook, done: true }));
  }
  return undefined;
}

const recorder = {};
for (const hook of HOOKS) {
  recorder[hook] =
    hook === 'onEvent'
      ? (event) => {
          record({ hook, name: event.session, event });
          return misbehave(hook, event.session);
        }
      : (name, event, ctx) => {
          record({ hook, name, event });
          if (hook === 'onNewSession' && env.TSHPOOL_TEST_HANDLE) return useHandle(name, ctx);
          return misbehave(hook, name);
        };
}
if (env.TSHPOOL_TEST_ONHOOK) recorder.onHook = (event) => record({ hook: 'onHook', name: event.session, event });

/** TSHPOOL_TEST_HANDLE: what the context's session handle does for a hook. */
async function useHandle(name, ctx) {
  const entry = { hook: 'handle', name };
  try {
    await ctx.session.send('echo HANDLE$((40+2))\r');
    const end = Date.now() + 10_000;
    do {
      entry.capture = await ctx.session.capture();
      if (entry.capture.includes('HANDLE42')) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < end);
    entry.list = await ctx.session.list();
  } catch (err) {
    entry.error = String(err?.stack ?? err);
  }
  record(entry);
}

function decide(hook) {
  return (name, request) => {
    record({ hook, name, request });
    const how = env.TSHPOOL_TEST_DECIDE ?? '';
    if (how.startsWith('reject:')) return { reject: how.slice('reject:'.length) };
    if (how === 'throw') throw new Error(`test: ${hook} threw on purpose`);
    if (how === 'hang') return new Promise(() => undefined);
    if (how === 'bad') return 42;
    return undefined;
  };
}
if (env.TSHPOOL_TEST_DECIDE !== undefined) {
  recorder.onBeforeCreate = decide('onBeforeCreate');
  recorder.onBeforeAttach = decide('onBeforeAttach');
}

let hooks = recorder;
if (env.TSHPOOL_TEST_COMPOSE) {
  const failing = {};
  for (const hook of HOOKS) {
    failing[hook] = () => {
      throw new Error(`test: composed ${hook} failed`);
    };
  }
  hooks = composeHooks(failing, recorder);
} else if (env.TSHPOOL_TEST_LOGGING) {
  hooks = composeHooks(new LoggingHooks(), recorder);
}

process.exitCode = await run(process.argv.slice(2), hooks);
