/**
 * Tuning values and names shared by client and daemon. Units are in the names;
 * each value says why it is what it is.
 */

/** A peer that has not sent its hello and its command by then is dropped, so it cannot hold a slot. */
export const FIRST_REQUEST_TIMEOUT_MS = 1000;
/** After its last reply, a connection whose peer does not close its side is destroyed after this. */
export const REPLY_LINGER_MS = 2000;
/**
 * Typed input waiting for the shell to read it beyond this stops the reading of
 * the client's socket until it drains, so a client pasting gigabytes into a
 * program that does not read cannot grow the daemon's memory.
 */
export const INPUT_QUEUE_LIMIT_BYTES = 256 * 1024;
/** How often a paused client's input is looked at again. */
export const INPUT_DRAIN_POLL_MS = 20;
/**
 * While a client's input is paused its socket is not read, so its EOF is not
 * seen either: this often the daemon asks whether the peer hung up (a killed
 * client must not stay "attached"; the issue asked for within a second).
 */
export const PAUSED_HANGUP_CHECK_MS = 250;

/**
 * What one connection may make the daemon buffer (issue 15): a hello, and every
 * control message once attached (resize, detach), is tiny; a command up to the
 * codec's control cap; keyboard input comes in reads of at most 64 KiB, so a data
 * frame from a client is capped far below the 16 MiB the daemon may send.
 */
export const SMALL_CONTROL_FRAME_BYTES = 4 * 1024;
export const INPUT_FRAME_MAX_BYTES = 1024 * 1024;
/** A frame begun but not finished for this long (while we were reading) ends the connection. */
export const PARTIAL_FRAME_TIMEOUT_MS = 10_000;
/**
 * Connections at once, and viewers per session; beyond them a connection is
 * refused with a message. With the caps above, all connections together can pin
 * at most ~MAX_CONNECTIONS × 1 MiB, and 256 is far more than one user's terminals.
 */
export const MAX_CONNECTIONS = 256;
export const MAX_VIEWERS_PER_SESSION = 32;

/**
 * A client whose socket holds more than this many unsent bytes has fallen behind
 * (stopped reading, full SSH window): its backlog is dropped and it is resynchronised
 * once it drains. 1 MiB is a few screens' worth and keeps a flood flowing without
 * ever blocking the shell.
 */
export const CLIENT_QUEUE_LIMIT_BYTES = 1024 * 1024;
/**
 * The attached client paces its session (daemon/output-pacing.ts): while more than
 * CLIENT_PACE_BYTES wait for its terminal, the session's output is not read (the
 * program waits, as it would on a bare terminal), until the queue is down to
 * CLIENT_PACE_RESUME_BYTES (half: no pause/resume per chunk). A terminal that
 * takes any bytes keeps pacing, however slowly it reads, so it gets every byte.
 */
export const CLIENT_PACE_BYTES = 256 * 1024;
export const CLIENT_PACE_RESUME_BYTES = CLIENT_PACE_BYTES / 2;
/** How often a paced terminal's progress is looked at. */
export const CLIENT_PACE_CHECK_MS = 20;
/**
 * A terminal that takes no byte for this long while its program waits is stalled
 * (stopped client, full SSH window): the program goes on and the rules above drop
 * and repaint. Progress is only seen when a whole write completes (a 64 KiB chunk
 * at 100 KB/s takes 0.65 s) and a lossy SSH link goes quiet for a TCP retransmission
 * timeout (0.2–1 s) now and then, so it is well above both. An exited program's
 * output is read whatever the pacing (pty-exit-drain.ts), so the wait never costs
 * a session its last lines.
 */
export const CLIENT_STALL_WINDOW_MS = 2000;
/**
 * After a drop, a client without a screen snapshot ("simple" mode) is repainted
 * with the end of the skipped output: a screenful or two, so the program's last
 * lines and the prompt are on the screen.
 */
export const CLIENT_RESYNC_TAIL_BYTES = 8 * 1024;
/** A client that has not drained its queue for this long is disconnected; the session stays. */
export const CLIENT_STALL_TIMEOUT_MS = 30_000;
/**
 * When a shell exits under a handed-off terminal, its last output is flushed to
 * the terminal for up to this long before the client is told to restore it.
 */
export const TERMINAL_FLUSH_TIMEOUT_MS = 2000;

/** `kill`: SIGHUP first, SIGKILL after this grace period if anything of the session is left. */
export const KILL_GRACE_MS = 500;

/** How long a client waits for an auto-started daemon's socket before giving up. */
export const DAEMON_START_TIMEOUT_MS = 5000;
/** First poll interval for the daemon's socket, doubled up to the cap below. */
export const DAEMON_POLL_START_MS = 5;
export const DAEMON_POLL_MAX_MS = 25;

/** proper-lockfile: a start-up lock older than this is considered abandoned (daemon crashed mid start-up). */
export const STARTUP_LOCK_STALE_MS = 5000;

/** Size used when the client has no terminal (scripts, pipes). */
export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

/** sockaddr_un.sun_path is 108 bytes on Linux including the terminating NUL; Node truncates silently. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Environment variable set in every session's shell. */
export const ENV_SESSION_NAME = 'TSHPOOL_SESSION_NAME';
/**
 * The daemon's socket, set in every session's shell and used by tshpool as the
 * default socket: `tshpool detach` inside a session reaches the daemon that runs
 * it, whatever --socket, XDG_RUNTIME_DIR or TMPDIR it was started with.
 */
export const ENV_SOCKET = 'TSHPOOL_SOCKET';

/** Variables forwarded from the creating client by default (config `forward_env` adds to these). */
export const DEFAULT_FORWARD_ENV: readonly string[] = ['TERM', 'DISPLAY', 'LANG', 'LC_ALL', 'COLORTERM', 'SSH_AUTH_SOCK'];

/** Default detach binding, as in shpool: Ctrl-Space (NUL) then Ctrl-q (0x11). */
export const DEFAULT_DETACH_BINDING = 'Ctrl-Space Ctrl-q';
