/**
 * The hook host: the wrapper's program, started by the daemon with
 * TSHPOOL_HOOK_HOST set and an IPC channel, runs the wrapper's hooks here — in
 * its own process, so nothing a hook does (throw, reject unawaited, exit, spin,
 * exhaust memory) can reach the process that holds the sessions. Each hook call
 * is reported to the daemon, which logs and counts it.
 *
 * An error that escapes a hook (an unawaited rejection, a late throw) is traced
 * back to the hook that started it through AsyncLocalStorage and a promise hook.
 * Unhandled rejections are reported and the host goes on; an uncaught exception
 * is reported and the host exits (its state is unknown), to be restarted by the daemon.
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { ENV_SOCKET } from '../consts.js';
import type { DecisionRequest, SessionEvent } from '../protocol/events.js';
import { DECISIONS } from '../protocol/events.js';
import { MAX_HOST_TEXT_CHARS, type FromHost, type ToHost, type WireError } from '../protocol/hook-host.js';
import { definedHooks, hookMethodsFor, runHook, toDecisionValue, toHookError, type EventHook, type HookContext, type HookOutcome, type Hooks, type SessionHandle } from '../hooks/hooks.js';
import { setHookLogSink } from '../hooks/builtin.js';
import { resolvePaths } from '../paths.js';
import { connectExisting } from './connect.js';
import { ExitCode } from './errors.js';

/** A hook that runs synchronously longer than this is reported: it held every other hook of the host. */
const BLOCKED_REPORT_MS = 1000;
/** Exit status after an uncaught exception (EX_SOFTWARE). */
const EXIT_UNCAUGHT = 70;

interface Owner {
  hook: string;
  session: string;
}

const owner = new AsyncLocalStorage<Owner>();
/** process.exit before traceExit() wraps it: the host's own ways out. */
const realExit = process.exit.bind(process);
const promiseOwners = new WeakMap<object, Owner>();

/** Cuts what a hook controls (error texts) to what the daemon keeps anyway: a huge message must not cost the daemon a parse. */
function bounded(e: WireError | null): WireError | null {
  return e && { message: e.message.slice(0, MAX_HOST_TEXT_CHARS), stack: e.stack?.slice(0, MAX_HOST_TEXT_CHARS) ?? null };
}

function send(msg: FromHost, then?: () => void): void {
  if ('error' in msg) msg = { ...msg, error: bounded(msg.error) } as FromHost;
  if (!process.connected) return then?.();
  process.send!(msg, undefined, {}, () => then?.());
}

/** A session handle over the daemon's socket; each call is one short connection. */
function sessionHandle(name: string): SessionHandle {
  const request = async <T>(work: (c: NonNullable<Awaited<ReturnType<typeof connectExisting>>>) => Promise<T>): Promise<T> => {
    const socket = process.env[ENV_SOCKET];
    if (!socket) throw new Error('the hook host does not know the daemon socket');
    const conn = await connectExisting(resolvePaths({ socket }));
    if (!conn) throw new Error(`no daemon at ${socket}`);
    try {
      return await work(conn);
    } finally {
      conn.close();
    }
  };
  const expect = <T extends string>(reply: { type: string; reason?: string }, type: T): void => {
    if (reply.type === 'error') throw new Error(reply.reason);
    if (reply.type !== type) throw new Error(`unexpected reply ${reply.type}`);
  };
  return {
    name,
    capture: (o = {}) =>
      request(async (c) => {
        c.send({ type: 'capture', name, scrollback: o.scrollback ?? 0, ansi: !!o.ansi });
        const r = await c.next();
        expect(r, 'capture');
        return (r as { text: string }).text;
      }),
    send: (text) =>
      request(async (c) => {
        c.send({ type: 'send', name, data: text });
        expect(await c.next(), 'ok');
      }),
    list: () =>
      request(async (c) => {
        c.send({ type: 'list' });
        const r = await c.next();
        expect(r, 'list');
        return (r as Extract<typeof r, { type: 'list' }>).sessions;
      }),
  };
}

/** Calls one hook as `hook` for `session`, reporting a synchronous hold of the event loop. */
function call<T>(hook: string, session: string, timeoutMs: number, fn: (ctx: HookContext) => T | Promise<T>): Promise<HookOutcome<Awaited<T>>> {
  return owner.run({ hook, session }, () =>
    runHook((signal) => {
      const started = performance.now();
      try {
        return fn({ signal, session: sessionHandle(session) });
      } finally {
        const ms = Math.round(performance.now() - started);
        if (ms >= BLOCKED_REPORT_MS) send({ type: 'blocked', hook, session, ms });
      }
    }, timeoutMs),
  );
}

function wire(outcome: HookOutcome): { status: HookOutcome['status']; error: WireError | null; durationMs: number } {
  return { status: outcome.status, error: outcome.status === 'error' ? outcome.error : null, durationMs: outcome.durationMs };
}

/** Calls the event's methods concurrently (a slow one delays no other), then reports the event done. */
async function runEvent(hooks: Hooks, event: SessionEvent, timeoutMs: number): Promise<void> {
  await Promise.all(
    hookMethodsFor(defined(hooks), event).map(async (method) => {
      const outcome = await call(method, event.session, timeoutMs, (ctx) => {
        if (method === 'onHook' || method === 'onEvent') return hooks[method]!.call(hooks, event, ctx);
        return (hooks[method] as EventHook).call(hooks, event.session, event, ctx);
      });
      send({ type: 'outcome', seq: event.seq, hook: method, session: event.session, ...wire(outcome) });
    }),
  );
  send({ type: 'done', seq: event.seq });
}

async function runDecision(hooks: Hooks, msg: Extract<ToHost, { type: 'decide' }>): Promise<void> {
  const method = DECISIONS[msg.point].hook;
  const fn = hooks[method];
  if (!fn) {
    send({ type: 'decision', id: msg.id, status: 'ok', decision: null, error: null, durationMs: 0 });
    return;
  }
  const request: DecisionRequest = msg.request;
  const outcome = await call(method, request.session, msg.timeoutMs, async (ctx) => toDecisionValue(await fn.call(hooks, request.session, request, ctx)));
  send({ type: 'decision', id: msg.id, decision: outcome.status === 'ok' ? outcome.value : null, ...wire(outcome) });
}

function traceEscapes(): void {
  createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'PROMISE') return;
      const o = owner.getStore();
      if (o) promiseOwners.set(resource as object, o);
    },
  }).enable();
  process.on('unhandledRejection', (reason, promise) => {
    const o = promiseOwners.get(promise) ?? owner.getStore() ?? null;
    send({ type: 'escaped', kind: 'rejection', hook: o?.hook ?? null, session: o?.session ?? null, error: toHookError(reason) });
  });
  process.on('uncaughtException', (err) => {
    const o = owner.getStore() ?? null;
    send({ type: 'escaped', kind: 'exception', hook: o?.hook ?? null, session: o?.session ?? null, error: toHookError(err) }, () => realExit(EXIT_UNCAUGHT));
  });
}

/** The hook methods `hooks` defines. */
function defined(hooks: Hooks): Set<string> {
  return new Set(definedHooks(hooks));
}

/** Signals that would end the host before the daemon's last events (a Ctrl-C on a foreground daemon, systemd's stop of the unit). */
const IGNORED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * process.exit() from a hook: reported with the hook that called it before the
 * host goes (the daemon restarts it), instead of an anonymous exit.
 */
function traceExit(): void {
  process.exit = ((code?: number | string | null) => {
    const o = owner.getStore();
    if (!o) return realExit(code);
    const error = { message: `process.exit(${code ?? ''})`, stack: new Error('process.exit').stack ?? null };
    send({ type: 'escaped', kind: 'exit', hook: o.hook, session: o.session, error }, () => realExit(code));
    return undefined as never;
  }) as typeof process.exit;
}

/** Serves `hooks` to the daemon until the channel closes; resolves to the exit code. */
export function serveHooks(hooks: Hooks): Promise<number> {
  if (typeof process.send !== 'function') {
    process.stderr.write('tshpool: TSHPOOL_HOOK_HOST is set but there is no channel to a daemon; the hook host is started by the daemon only\n');
    return Promise.resolve(ExitCode.Usage);
  }
  traceEscapes();
  traceExit();
  // The host ends when the daemon's channel closes, after the daemon's last events, not at a signal meant for the daemon.
  for (const s of IGNORED_SIGNALS) process.on(s, () => undefined);
  setHookLogSink((message, fields) => send({ type: 'log', message, fields }));
  return new Promise((resolve) => {
    process.on('message', (msg: ToHost) => {
      if (msg.type === 'event') void runEvent(hooks, msg.event, msg.timeoutMs);
      else if (msg.type === 'decide') void runDecision(hooks, msg);
    });
    // The daemon is gone (or replaced us): nothing is left to serve.
    process.once('disconnect', () => {
      resolve(ExitCode.Ok);
      setTimeout(() => realExit(ExitCode.Ok), 0).unref();
    });
    send({ type: 'ready', methods: [...defined(hooks)] });
  });
}
