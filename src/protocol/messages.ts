/**
 * Every control message of the tshpool socket, in one place. Requests go client →
 * daemon, replies daemon → client; both are JSON objects in CONTROL frames (codec.ts),
 * discriminated by `type`. Terminal bytes never appear here: they travel in DATA frames.
 *
 * A connection starts with `hello` from the client and `hello` back from the daemon.
 * After that the client sends exactly one command request; for `attach` the
 * connection then stays open for DATA frames both ways plus `resize` / `detach` from
 * the client and `exit` / `detached` from the daemon.
 */
import { ProtocolError } from './codec.js';
import { SESSION_EVENT_TYPES, type EventReason, type SessionEvent, type SessionEventType } from './events.js';
import { sessionNameProblem } from './names.js';

export type { SessionEvent, SessionEventType } from './events.js';

/** Bumped on any incompatible change to the messages or the framing. */
export const PROTOCOL_VERSION = 3;

/**
 * A client at a terminal asks the daemon to take that terminal over, as tmux
 * does: the daemon opens the client's tty itself (found through the peer's
 * /proc/PID/fd/0) and reads and writes it directly, which takes the client
 * process off the path of every byte. The keybindings travel along because the
 * daemon matches them then. The reply says whether the daemon took it; if not,
 * the client relays as usual.
 */
export interface TerminalHandoff {
  keybinding: { binding: string; action: 'detach' | 'noop' }[];
}

/**
 * Which terminal a client runs in, as far as it can tell: its tty device plus the
 * pid and start time of the tty's session leader (the login shell of one SSH
 * connection or terminal window). A terminal the session was already shown in has
 * its history in its own scrollback, so a reattach from it repaints the screen and
 * adds only the lines printed since it left; a new one gets the whole history.
 * null: no terminal (a pipe), every attach is a fresh one.
 */
export type TerminalId = string;

/** Why a client stopped being attached (the events' reasons). */
export type DetachReason = EventReason;

export type Request =
  /** First message on every connection. Reply: `hello`, or `error` on a version mismatch. */
  | { type: 'hello'; protocol: number; version: string }
  /**
   * Create the session if needed, then attach (or, with `background`, return at once).
   * Reply: `attached` (then the stream), `busy`, or `error`.
   */
  | {
      type: 'attach';
      name: string;
      force: boolean;
      background: boolean;
      /** Session lifetime from creation; applied only when the session is created. */
      ttlMs: number | null;
      /** argv to run instead of the shell (already split into words). */
      cmd: string[] | null;
      /** Absolute directory to start in (the client resolves `.` and relatives). */
      dir: string | null;
      rows: number;
      cols: number;
      /** The client's values of the variables it forwards (TERM, forward_env). */
      env: Record<string, string>;
      clientPid: number;
      /** Per-session hook commands (hook name → command lines), applied when the session is created. */
      hooks: Record<string, string[]>;
      handoff: TerminalHandoff | null;
      /** The client's terminal, for the history rule (see TerminalId). */
      terminal: TerminalId | null;
    }
  /**
   * Watch a session read-only: the restored screen, then live output. Input is not
   * accepted and the session does not become busy. Reply: `viewing` (then the
   * stream) or `error`. Only `detach` may follow.
   */
  | { type: 'view'; name: string; rows: number; cols: number; clientPid: number; handoff: TerminalHandoff | null; terminal: TerminalId | null }
  /** The session's screen (and up to `scrollback` lines above it) as text. Reply: `capture` or `error`. */
  | { type: 'capture'; name: string; scrollback: number; ansi: boolean }
  /** Type `data` into the session as if from its terminal. Reply: `ok` or `error`. */
  | { type: 'send'; name: string; data: string }
  /** The attached client's terminal changed size. No reply. */
  | { type: 'resize'; rows: number; cols: number }
  /**
   * Without names on an attach connection: detach this client. With names: detach
   * those sessions' clients. Reply (with names): `detach-result`.
   */
  | { type: 'detach'; names: string[] }
  /** Kill sessions (SIGHUP, then SIGKILL). Reply: `kill-result`. */
  | { type: 'kill'; names: string[] }
  /** Reply: `list`. */
  | { type: 'list' }
  /** Reply: `ok` or `error`. */
  | { type: 'set-log-level'; level: string }
  /**
   * Subscribe to session events: first up to `history` past events (or, with
   * `since`, every kept event with a greater seq), then live ones, as `event`
   * replies until the connection closes. `session` and `types` filter.
   */
  | { type: 'events'; session: string | null; history: number; since?: number | null; types?: SessionEventType[] | null }
  /** Reply: `status`. */
  | { type: 'status' };

export interface HookCounters {
  calls: number;
  errors: number;
  timeouts: number;
  lastError: string | null;
  meanDurationMs: number;
  /** Config commands: dropped because too many waited for a free slot. */
  dropped?: number;
}

/** The wrapper's hook host, as `status` shows it. */
export interface HookHostStatus {
  /** node, its flags and the wrapper's script. */
  command: string[];
  pid: number | null;
  state: 'starting' | 'running' | 'restarting' | 'stopped';
  /** The hook methods the wrapper defines. */
  methods: string[];
  restarts: number;
  lastCrash: { atUnixMs: number; cause: string } | null;
  /** Events waiting for the host, and sent but not yet done. */
  queued: number;
  inFlight: number;
  /** Events dropped because the queue was full. */
  dropped: number;
  escapedErrors: number;
  blockedReports: number;
}

/** Decision hooks' results since start. */
export interface DecisionCounters {
  continued: number;
  rejected: number;
  /** A decision hook failed, timed out or the host was down; then decision_failure applied. */
  failures: number;
  lastFailure: string | null;
}

export interface EventCounters {
  /** The last event's seq (0 before the first). */
  lastSeq: number;
  byType: Partial<Record<SessionEventType, number>>;
  subscribers: number;
  /** Subscribers dropped because they stopped reading. */
  droppedSubscribers: number;
}

export interface DaemonStatus {
  pid: number;
  version: string;
  startedAtUnixMs: number;
  uptimeMs: number;
  sessions: number;
  socket: string;
  logFile: string;
  /** Log lines lost (queue full, file not writable). Absent from older daemons. */
  logDropped?: number;
  /** Why the log cannot be written right now (it is retried every second), or null. */
  logError?: string | null;
  hooks: Record<string, HookCounters>;
  /** Hook calls currently running or queued (config commands). */
  hooksInFlight: number;
  /** The wrapper's hook host; null when the daemon has none (plain tshpool). Absent from older daemons. */
  hookHost?: HookHostStatus | null;
  decisions?: DecisionCounters;
  events?: EventCounters;
  /** Errors that escaped the daemon's own code (logged with their stack; the daemon kept running). */
  internalErrors?: number;
  config: { files: string[]; loadedAtUnixMs: number; error: string | null };
  /**
   * Detached sessions flooding output take turns: the one reading now and those
   * paused until theirs, in order. Absent from older daemons.
   */
  floodTurns?: { current: string | null; waiting: string[] };
}

export interface SessionInfo {
  name: string;
  status: 'attached' | 'disconnected';
  started_at_unix_ms: number;
  last_connected_at_unix_ms: number | null;
  last_disconnected_at_unix_ms: number | null;
  pid: number;
  client_pid: number | null;
  /** What the session runs: its shell or its --cmd, as words joined by spaces. */
  cmd: string;
  /** Read-only viewers (`tshpool view`) watching it. */
  viewers: number;
}

export type Reply =
  /** `wrapper`: the script whose hooks this daemon runs (its hook host), null for plain tshpool. */
  | { type: 'hello'; protocol: number; version: string; pid: number; wrapper?: string | null }
  /**
   * The attach succeeded. For a foreground attach, DATA frames follow — unless
   * `handoff` is true: then the daemon drives the client's terminal itself.
   */
  | { type: 'attached'; name: string; created: boolean; shellPid: number; handoff: boolean }
  /** The view request succeeded; DATA frames follow unless `handoff` is true. */
  | { type: 'viewing'; name: string; shellPid: number; handoff: boolean }
  | { type: 'capture'; text: string }
  /** Another client is attached and `force` was not given. */
  | { type: 'busy'; name: string }
  /** A decision hook refused the attach or view (nothing was created); `reason` is the hook's. */
  | { type: 'refused'; name: string; reason: string }
  /** The request failed; `reason` is a sentence for the user. */
  | { type: 'error'; reason: string }
  | { type: 'detach-result'; notFound: string[]; notAttached: string[] }
  | { type: 'kill-result'; notFound: string[] }
  /** Sessions; `more: true` means another `list` frame follows with the next ones. */
  | { type: 'list'; sessions: SessionInfo[]; more?: boolean }
  | { type: 'ok' }
  /** The attached session's shell ended; the connection closes after this. */
  | { type: 'exit'; exitCode: number; signal: number | null }
  /** This client is no longer attached (the session lives on unless reason is kill/ttl). */
  | { type: 'detached'; reason: DetachReason }
  /**
   * While attached or viewing with a handed-off terminal: the output the daemon
   * wrote to it entered (true) or left (false) the alternate screen, so the client
   * knows how to give the terminal back (util/terminal-modes.ts). A relaying
   * client follows the DATA frames itself.
   */
  | { type: 'screen'; altScreen: boolean }
  /** One event of an `events` subscription. */
  | { type: 'event'; event: SessionEvent }
  | { type: 'status'; status: DaemonStatus };

export type RequestType = Request['type'];
export type ReplyType = Reply['type'];

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

// ---- validation at the boundary: unknown fields are ignored, bad shapes rejected ----

type Obj = Record<string, unknown>;

function str(o: Obj, key: string, maxLength = 4096): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ProtocolError(`field '${key}' must be a string`);
  if (v.length > maxLength) throw new ProtocolError(`field '${key}' is longer than ${maxLength} characters`);
  return v;
}
function bool(o: Obj, key: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ProtocolError(`field '${key}' must be a boolean`);
  return v;
}
function int(o: Obj, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError(`field '${key}' must be an integer in [${min}, ${max}]`);
  }
  return v;
}
function nullable<T>(o: Obj, key: string, read: (o: Obj, key: string) => T): T | null {
  return o[key] === null || o[key] === undefined ? null : read(o, key);
}
function strArray(o: Obj, key: string, maxItems = 1024): string[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string' && x.length <= 4096)) {
    throw new ProtocolError(`field '${key}' must be an array of at most ${maxItems} strings`);
  }
  return v as string[];
}
function sessionName(o: Obj, key: string): string {
  const name = str(o, key, 1024);
  const problem = sessionNameProblem(name);
  if (problem) throw new ProtocolError(problem);
  return name;
}
/** Session names in detach/kill: each must be a valid name, so replies stay small. */
function names(o: Obj, key: string): string[] {
  const list = strArray(o, key, MAX_NAMES_PER_REQUEST);
  for (const n of list) {
    const problem = sessionNameProblem(n);
    if (problem) throw new ProtocolError(`${key}: ${problem}`);
  }
  return list;
}
/**
 * A record for keys chosen by the peer: without a prototype, `__proto__` is an
 * ordinary key (validated and refused like any unknown one) instead of silently
 * replacing the prototype and vanishing from the entries.
 */
function nullPrototype<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function strRecord(o: Obj, key: string): Record<string, string> {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`field '${key}' must be an object`);
  const out = nullPrototype<string>();
  const entries = Object.entries(v);
  if (entries.length > 256) throw new ProtocolError(`field '${key}' has too many entries`);
  for (const [k, val] of entries) {
    if (typeof val !== 'string' || val.length > 65536 || k.length > 1024) throw new ProtocolError(`field '${key}.${k}' must be a string`);
    out[k] = val;
  }
  return out;
}

function eventTypes(o: Obj, key: string): SessionEventType[] {
  const list = strArray(o, key, SESSION_EVENT_TYPES.length);
  for (const t of list) {
    if (!(SESSION_EVENT_TYPES as string[]).includes(t)) throw new ProtocolError(`${key}: unknown event type ${JSON.stringify(t).slice(0, 64)}`);
  }
  return list as SessionEventType[];
}

const MAX_KEYBINDINGS = 64;

function handoff(o: Obj, key: string): TerminalHandoff {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`field '${key}' must be an object`);
  const list = (v as Obj).keybinding;
  if (!Array.isArray(list) || list.length > MAX_KEYBINDINGS) {
    throw new ProtocolError(`field '${key}.keybinding' must be an array of at most ${MAX_KEYBINDINGS} bindings`);
  }
  const keybinding = list.map((b: unknown) => {
    const e = (typeof b === 'object' && b !== null ? b : {}) as Obj;
    if (e.action !== 'detach' && e.action !== 'noop') throw new ProtocolError(`field '${key}.keybinding' has an unknown action`);
    return { binding: str(e, 'binding', 256), action: e.action as 'detach' | 'noop' };
  });
  return { keybinding };
}

function hookCommands(o: Obj, key: string): Record<string, string[]> {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`field '${key}' must be an object`);
  const out = nullPrototype<string[]>();
  const entries = Object.entries(v);
  if (entries.length > 16) throw new ProtocolError(`field '${key}' has too many entries`);
  for (const [name] of entries) out[name] = strArray(v as Obj, name, 64);
  return out;
}

/**
 * Terminal sizes beyond any real screen (a 4K display at a tiny font is ~500x150)
 * are refused: each session keeps an emulator of its size, and one of 10^8 cells
 * would take gigabytes.
 */
const MAX_COLS = 1000;
const MAX_ROWS = 500;
const MAX_NAMES_PER_REQUEST = 1000;
const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

/** Checks a decoded control object against the Request union. Throws ProtocolError with the reason. */
export function parseRequest(raw: unknown): Request {
  const o = raw as Obj;
  const type = o.type as RequestType;
  switch (type) {
    case 'hello':
      return { type, protocol: int(o, 'protocol', 0, 2 ** 31), version: str(o, 'version', 64) };
    case 'attach':
      return {
        type,
        name: sessionName(o, 'name'),
        force: bool(o, 'force'),
        background: bool(o, 'background'),
        ttlMs: nullable(o, 'ttlMs', (x, k) => int(x, k, 1, MAX_TTL_MS)),
        cmd: nullable(o, 'cmd', (x, k) => strArray(x, k)),
        dir: nullable(o, 'dir', (x, k) => str(x, k)),
        rows: int(o, 'rows', 1, MAX_ROWS),
        cols: int(o, 'cols', 1, MAX_COLS),
        env: strRecord(o, 'env'),
        clientPid: int(o, 'clientPid', 0, 2 ** 31),
        hooks: o.hooks === undefined ? {} : hookCommands(o, 'hooks'),
        handoff: nullable(o, 'handoff', handoff),
        terminal: nullable(o, 'terminal', (x, k) => str(x, k, 256)),
      };
    case 'view':
      return {
        type,
        name: sessionName(o, 'name'),
        rows: int(o, 'rows', 1, MAX_ROWS),
        cols: int(o, 'cols', 1, MAX_COLS),
        clientPid: int(o, 'clientPid', 0, 2 ** 31),
        handoff: nullable(o, 'handoff', handoff),
        terminal: nullable(o, 'terminal', (x, k) => str(x, k, 256)),
      };
    case 'capture':
      return { type, name: sessionName(o, 'name'), scrollback: int(o, 'scrollback', 0, 1_000_000), ansi: bool(o, 'ansi') };
    case 'send':
      return { type, name: sessionName(o, 'name'), data: str(o, 'data', 64 * 1024) };
    case 'resize':
      return { type, rows: int(o, 'rows', 1, MAX_ROWS), cols: int(o, 'cols', 1, MAX_COLS) };
    case 'detach':
      return { type, names: names(o, 'names') };
    case 'kill':
      return { type, names: names(o, 'names') };
    case 'list':
      return { type };
    case 'set-log-level':
      return { type, level: str(o, 'level', 32) };
    case 'events':
      return {
        type,
        session: nullable(o, 'session', sessionName),
        history: int(o, 'history', 0, 1_000_000),
        since: nullable(o, 'since', (x, k) => int(x, k, 0, Number.MAX_SAFE_INTEGER)),
        types: nullable(o, 'types', eventTypes),
      };
    case 'status':
      return { type };
    default:
      throw new ProtocolError(`unknown request type ${JSON.stringify(type)?.slice(0, 64)}`);
  }
}

const REPLY_TYPES: ReadonlySet<string> = new Set<ReplyType>([
  'hello', 'attached', 'busy', 'refused', 'error', 'detach-result', 'kill-result', 'list', 'ok', 'exit', 'detached', 'screen', 'event', 'status', 'viewing', 'capture',
]);

/** The client trusts its own daemon's shapes but still refuses unknown reply types. */
export function parseReply(raw: unknown): Reply {
  const type = (raw as Obj).type;
  if (typeof type !== 'string' || !REPLY_TYPES.has(type)) throw new ProtocolError(`unknown reply type ${JSON.stringify(type)}`);
  return raw as Reply;
}
