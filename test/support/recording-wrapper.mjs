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
// Built-in hooks:
//   TSHPOOL_TEST_COMPOSE=1   hooks = composeHooks(<every method throws>, <the recorder>)
//   TSHPOOL_TEST_LOGGING=1   hooks = composeHooks(new LoggingHooks(), <the recorder>)
import { appendFileSync } from 'node:fs';
import { run, composeHooks, LoggingHooks } from 'tshpool';

const HOOKS = ['onNewSession', 'onReattach', 'onBusy', 'onClientDisconnect', 'onShellDisconnect', 'onViewerJoin', 'onViewerLeave', 'onEvent'];
const file = process.env.TSHPOOL_TEST_RECORD;
const env = process.env;
const [slowHook, slowMs] = (env.TSHPOOL_TEST_SLOW ?? '').split(':');

function record(entry) {
  if (file) appendFileSync(file, `${JSON.stringify({ ...entry, pid: process.pid })}\n`);
}

function misbehave(hook) {
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
          return misbehave(hook);
        }
      : (name, event) => {
          record({ hook, name, event });
          return misbehave(hook);
        };
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
