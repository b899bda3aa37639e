/**
 * The session lifecycle events, in one table: every other name of an event (the
 * wrapper's hook method, the config's hook command, the help text) is derived
 * from SESSION_EVENTS. Hooks, hook commands (on stdin) and `tshpool events` all
 * receive the same SessionEvent object.
 */

/** Why a client or viewer left, or why a session ended. One vocabulary for hooks, commands and the stream. */
export type EventReason =
  /** The detach keys, `tshpool detach`, or the client's input ended. */
  | 'detach'
  /** The client vanished: its terminal closed, it was killed, or it stopped reading. */
  | 'hangup'
  /** Displaced by `attach -f`. */
  | 'force'
  /** `tshpool kill`. */
  | 'kill'
  /** The session's --ttl expired. */
  | 'ttl'
  /** The shell exited by itself. */
  | 'exit'
  /** The daemon was stopped (SIGTERM / SIGINT): its sessions ended with it. */
  | 'shutdown';



/**
 * Each event: the wrapper's hook method (`hook`), the `[hooks]` command key
 * (`command`), and a sentence for help texts.
 */
export const SESSION_EVENTS = {
  'session.created': { hook: 'onNewSession', command: 'on_new_session', help: 'a session was created (its shell is running)' },
  'session.attached': {
    hook: 'onReattach',
    command: 'on_reattach',
    help: 'a client attached (after session.created when the attach created the session; the hook and command run only for an existing session)',
  },
  'session.busy': { hook: 'onBusy', command: 'on_busy', help: 'a client was refused because another one is attached' },
  'session.detached': { hook: 'onClientDisconnect', command: 'on_client_disconnect', help: 'the attached client left (see reason)' },
  'session.removed': { hook: 'onShellDisconnect', command: 'on_shell_disconnect', help: 'the session ended (see reason, exitCode, signal)' },
  'session.viewer_joined': { hook: 'onViewerJoin', command: 'on_viewer_join', help: 'a read-only viewer (`tshpool view`) started watching' },
  'session.viewer_left': { hook: 'onViewerLeave', command: 'on_viewer_leave', help: 'a viewer stopped watching (see reason)' },
} as const;

export type SessionEventType = keyof typeof SESSION_EVENTS;
export type EventHookName = (typeof SESSION_EVENTS)[SessionEventType]['hook'];
export type EventCommandName = (typeof SESSION_EVENTS)[SessionEventType]['command'];
export const SESSION_EVENT_TYPES = Object.keys(SESSION_EVENTS) as SessionEventType[];

/**
 * Decisions: hooks awaited before an operation, which may refuse it. `hook` is the
 * wrapper's method, `command` the `[hooks]` key of the command that decides.
 */
export const DECISIONS = {
  create: { hook: 'onBeforeCreate', command: 'before_new_session' },
  attach: { hook: 'onBeforeAttach', command: 'before_attach' },
} as const;
export type DecisionPoint = keyof typeof DECISIONS;
export type DecisionHookName = (typeof DECISIONS)[DecisionPoint]['hook'];
export type DecisionCommandName = (typeof DECISIONS)[DecisionPoint]['command'];

/** Every `[hooks]` command key and `attach --hook NAME=` name. */
export const HOOK_COMMAND_NAMES: readonly (EventCommandName | DecisionCommandName)[] = [
  ...SESSION_EVENT_TYPES.map((t) => SESSION_EVENTS[t].command),
  ...Object.values(DECISIONS).map((d) => d.command),
];
export type HookCommandName = EventCommandName | DecisionCommandName;

/** One event, as hooks, hook commands and the event stream see it. Fields that do not apply are absent. */
export interface SessionEvent {
  /** Increases by one per event of this daemon: a subscriber that sees a gap missed events (`events --since`). */
  seq: number;
  type: SessionEventType;
  /** The session's name. */
  session: string;
  /** The same as `session` (the name hooks used before 0.2). */
  sessionName: string;
  /** When it happened, ms since the Unix epoch. */
  at: number;
  /** The session's shell (or --cmd) process. */
  shellPid?: number;
  /** The client process concerned (attaching, refused, leaving, viewing). */
  clientPid?: number;
  /** session.attached: the attach created the session (session.created came just before). */
  created?: boolean;
  /** session.removed: the exit status when the shell exited normally. */
  exitCode?: number;
  /** session.removed: the signal number that ended the shell, if one did. */
  signal?: number;
  reason?: EventReason;
}

/** What a decision hook is asked about. */
export interface DecisionRequest {
  /** create: a new session; attach: an existing one; force: `attach -f` displacing a client; view: `tshpool view`. */
  kind: 'create' | 'attach' | 'force' | 'view';
  session: string;
  clientPid: number;
  /** --cmd words (create only), else null. */
  cmd: string[] | null;
  /** The directory a new session starts in (create only), else null. */
  dir: string | null;
  ttlMs: number | null;
  cols: number;
  rows: number;
}

/** A decision hook's answer: refuse with a reason, or go on. */
export type Decision = { reject: string } | { continue: true };
