// tshpool-holder: keeps one user's tshpool shells alive while no daemon runs.
//
// It is the shells' parent (it forks them), keeps one copy of each pty master
// fd and each exit status nobody collected yet, and hands the masters to the
// daemon that connects (SCM_RIGHTS). It never reads or writes a master, never
// runs wrapper code, allocates nothing per byte of output: a daemon can crash
// or be replaced and the next one adopts every session. See docs/architecture.md.
//
// Usage: tshpool-holder --socket PATH [--log PATH] [--idle-exit-ms N]
// The caller detaches it (setsid, no terminal); it runs in the foreground, prints
// "ready PID" on stdout once it accepts connections, then points stdio at
// /dev/null. Exit status 3: another holder already serves PATH.
//
// Wire protocol (one Unix stream connection per daemon; the TS side is
// src/daemon/holder/holder-protocol.ts, which must match this comment):
//   frame   = u32 length (little-endian; counts the bytes after it) | u8 type | payload
//   string  = u32 length | bytes (no NUL terminator; NUL inside is refused where a C string is needed)
//   strings = u32 count | string * count
//   A frame that carries a file descriptor sends it as SCM_RIGHTS on the frame's
//   first byte; the receiver takes received fds in order, one per such frame.
//   Integers are little-endian; i32 are two's complement.
//  daemon -> holder (HELLO must come first)
//    1 HELLO        u32 version                 -> WELCOME, one HELD per session, END_OF_LIST;
//                                                  the previous daemon connection gets SUPERSEDED and is closed
//    2 SPAWN        u32 reqId, string key, string file, strings argv, strings env,
//                   string cwd, u16 cols, u16 rows
//                                               -> SPAWNED + master fd | SPAWN_FAILED
//    3 FORGET       string key                  (no reply) the holder closes its master copy and drops the entry
//    4 KILL         string key, i32 signal, u8 group (1: the shell's process group too)   (no reply)
//    5 SHUTDOWN     u8 force                    (no reply) exit once no session is held (a later HELLO cancels
//                                               that); force: hang up every session and exit now.
//  holder -> daemon
//   64 WELCOME      u32 version, i32 holderPid, u32 sessionCount
//   65 HELD         string key, i32 pid, u8 state (0 running, 1 exited), i32 exitCode, i32 signal  + master fd
//                   (also sent unsolicited after END_OF_LIST for a spawn that completed after its requester left)
//   66 END_OF_LIST
//   67 SPAWNED      u32 reqId, string key, i32 pid  + master fd
//   68 SPAWN_FAILED u32 reqId, i32 errno, string message
//   69 EXITED       string key, i32 pid, i32 exitCode, i32 signal  (exitCode 0 when killed by a signal, as node-pty)
//   70 SUPERSEDED
//   71 ERROR        u32 reqId (0: none), string message; the holder then closes the connection
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

// Bump on any incompatible change to the frames above; the TS side has the same number.
#define PROTOCOL_VERSION 1u
// A user with more sessions than this has a runaway script; each one costs a pty and fds.
#define MAX_SESSIONS 4096
// Largest frame either way; a SPAWN with a huge environment stays far below.
#define MAX_FRAME_BYTES (1024u * 1024u)
#define MAX_KEY_BYTES 4096u
// The daemon, its successor during a takeover, and a few stray or refused peers.
#define MAX_CONNECTIONS 8
// Unsent replies to a daemon that stopped reading; HELD for 4096 sessions with long keys fits.
#define MAX_OUTPUT_QUEUE_BYTES (32u * 1024u * 1024u)
// A connection that has not said HELLO by then cannot hold a slot.
#define HELLO_TIMEOUT_MS 5000
// A closing connection (superseded, refused) gets this long to take its last frames.
#define CLOSE_LINGER_MS 2000
// With no session and no daemon for this long the holder exits: nothing would ever use it.
#define DEFAULT_IDLE_EXIT_MS 10000
#define READ_CHUNK_BYTES 65536
#define EXIT_USAGE 2
#define EXIT_ALREADY_RUNNING 3

enum msg_type {
  MSG_HELLO = 1, MSG_SPAWN = 2, MSG_FORGET = 3, MSG_KILL = 4, MSG_SHUTDOWN = 5,
  MSG_WELCOME = 64, MSG_HELD = 65, MSG_END_OF_LIST = 66, MSG_SPAWNED = 67, MSG_SPAWN_FAILED = 68,
  MSG_EXITED = 69, MSG_SUPERSEDED = 70, MSG_ERROR = 71,
};

enum entry_state { ENTRY_STARTING, ENTRY_RUNNING, ENTRY_EXITED };

struct entry {
  char *key;
  uint32_t key_len;
  pid_t pid;
  int master;      // the holder's copy (O_CLOEXEC); closed on FORGET
  int exec_pipe;   // ENTRY_STARTING: read end of the child's CLOEXEC error pipe
  uint32_t req_id; // ENTRY_STARTING: the SPAWN to answer ...
  uint64_t requester; // ... on this connection (serial), if it is still there
  enum entry_state state;
  int exit_code, signal;
};

struct out_frame {
  struct out_frame *next;
  size_t len, off;
  int fd; // a dup owned by this frame, sent with its first byte, then closed; -1: none
  uint8_t data[];
};

struct conn {
  int fd; // -1: free slot
  uint64_t serial;
  pid_t peer_pid;
  int said_hello, closing;
  int64_t deadline_ms; // hello timeout, or close linger
  uint8_t *in;
  size_t in_len, in_cap;
  struct out_frame *out_head, *out_tail;
  size_t out_bytes;
};

struct buf {
  uint8_t *p;
  size_t len, cap;
  int failed;
};

struct reader {
  const uint8_t *p;
  size_t n;
  int bad;
};

static struct entry **entries;
static int n_entries;
static struct conn conns[MAX_CONNECTIONS];
static struct conn *daemon_conn;
static uint64_t next_serial = 1;
static int listen_fd = -1, signal_pipe[2] = {-1, -1}, log_fd = -1;
static const char *socket_path;
static int64_t idle_since_ms, idle_exit_ms = DEFAULT_IDLE_EXIT_MS;
static int shutting_down;
static struct rlimit original_nofile;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// One line per event (spawned, exited, adopted, forgotten, refused); nothing per byte.
static void log_line(const char *fmt, ...) {
  if (log_fd < 0) return;
  char line[1024];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
  n += (size_t)snprintf(line + n, sizeof line - n, " holder[%d]: ", (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  n = m < 0 ? n : (n + (size_t)m > sizeof line - 2 ? sizeof line - 2 : n + (size_t)m);
  line[n++] = '\n';
  if (write(log_fd, line, n) < 0) { /* a log that cannot be written must not stop the holder */ }
}

// ---- frame building ---------------------------------------------------------

static void buf_need(struct buf *b, size_t more) {
  if (b->failed || b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + more) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) { b->failed = 1; return; }
  b->p = p;
  b->cap = cap;
}

static void put_bytes(struct buf *b, const void *data, size_t n) {
  buf_need(b, n);
  if (b->failed) return;
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void put_u8(struct buf *b, uint8_t v) { put_bytes(b, &v, 1); }

static void put_u32(struct buf *b, uint32_t v) {
  uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put_bytes(b, le, 4);
}

static void put_str(struct buf *b, const char *s, size_t n) {
  put_u32(b, (uint32_t)n);
  put_bytes(b, s, n);
}

// Starts a frame: the length is patched in by queue_frame().
static void frame_start(struct buf *b, enum msg_type type) {
  b->len = 0;
  put_u32(b, 0);
  put_u8(b, (uint8_t)type);
}

// ---- frame reading ----------------------------------------------------------

static const uint8_t *get_bytes(struct reader *r, size_t n) {
  if (r->bad || r->n < n) { r->bad = 1; return NULL; }
  const uint8_t *p = r->p;
  r->p += n;
  r->n -= n;
  return p;
}

static uint32_t get_u32(struct reader *r) {
  const uint8_t *p = get_bytes(r, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

static uint16_t get_u16(struct reader *r) {
  const uint8_t *p = get_bytes(r, 2);
  return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint8_t get_u8(struct reader *r) {
  const uint8_t *p = get_bytes(r, 1);
  return p ? p[0] : 0;
}

static const char *get_str(struct reader *r, uint32_t *len) {
  *len = get_u32(r);
  return (const char *)get_bytes(r, *len);
}

// A string as a NUL-terminated copy; NULL when malformed, *has_nul when it holds a NUL byte.
static char *get_cstr(struct reader *r, int *has_nul) {
  uint32_t len;
  const char *s = get_str(r, &len);
  if (!s) return NULL;
  if (memchr(s, 0, len)) *has_nul = 1;
  char *copy = malloc(len + 1u);
  if (!copy) { r->bad = 1; return NULL; }
  memcpy(copy, s, len);
  copy[len] = 0;
  return copy;
}

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

// strings -> NULL-terminated array of copies; NULL when malformed.
static char **get_strv(struct reader *r, int *has_nul) {
  uint32_t count = get_u32(r);
  if (r->bad || count > r->n / 4) { r->bad = 1; return NULL; } // each string needs its 4-byte length
  char **v = calloc((size_t)count + 1, sizeof *v);
  if (!v) { r->bad = 1; return NULL; }
  for (uint32_t i = 0; i < count; i++) {
    v[i] = get_cstr(r, has_nul);
    if (!v[i]) { free_strv(v); return NULL; }
  }
  return v;
}

// ---- connections ------------------------------------------------------------

static void conn_close(struct conn *c, const char *why) {
  if (c->fd < 0) return;
  log_line("connection from pid %d closed: %s", (int)c->peer_pid, why);
  close(c->fd);
  c->fd = -1;
  free(c->in);
  c->in = NULL;
  c->in_len = c->in_cap = 0;
  for (struct out_frame *f = c->out_head, *next; f; f = next) {
    next = f->next;
    if (f->fd >= 0) close(f->fd);
    free(f);
  }
  c->out_head = c->out_tail = NULL;
  c->out_bytes = 0;
  if (daemon_conn == c) {
    daemon_conn = NULL;
    idle_since_ms = now_ms();
  }
}

static struct conn *conn_by_serial(uint64_t serial) {
  for (int i = 0; i < MAX_CONNECTIONS; i++)
    if (conns[i].fd >= 0 && conns[i].serial == serial) return &conns[i];
  return NULL;
}

// Sends what the socket takes now; the rest waits for POLLOUT. -1: the connection is gone.
static int conn_flush(struct conn *c) {
  while (c->out_head) {
    struct out_frame *f = c->out_head;
    struct iovec iov = {f->data + f->off, f->len - f->off};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } ctl;
    if (f->fd >= 0) {
      memset(&ctl, 0, sizeof ctl);
      msg.msg_control = ctl.buf;
      msg.msg_controllen = sizeof ctl.buf;
      struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cm), &f->fd, sizeof(int));
    }
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      conn_close(c, strerror(errno));
      return -1;
    }
    if (f->fd >= 0) { // it travelled with the bytes just sent
      close(f->fd);
      f->fd = -1;
    }
    f->off += (size_t)n;
    c->out_bytes -= (size_t)n;
    if (f->off == f->len) {
      c->out_head = f->next;
      if (!c->out_head) c->out_tail = NULL;
      free(f);
    }
  }
  if (c->closing) conn_close(c, "closed after its last reply");
  return 0;
}

// Queues the frame in b (with a dup of fd, if any, so a FORGET meanwhile cannot
// make the number point elsewhere) and sends what fits now.
static void queue_frame(struct conn *c, struct buf *b, int fd) {
  if (c->fd < 0) return;
  if (b->failed) { conn_close(c, "out of memory building a reply"); return; }
  uint32_t len = (uint32_t)(b->len - 4);
  b->p[0] = (uint8_t)len; b->p[1] = (uint8_t)(len >> 8); b->p[2] = (uint8_t)(len >> 16); b->p[3] = (uint8_t)(len >> 24);
  if (c->out_bytes + b->len > MAX_OUTPUT_QUEUE_BYTES) { conn_close(c, "stopped reading its replies"); return; }
  struct out_frame *f = malloc(sizeof *f + b->len);
  if (!f) { conn_close(c, "out of memory queueing a reply"); return; }
  f->next = NULL;
  f->len = b->len;
  f->off = 0;
  f->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  // Sent without its fd, the frame would pair the next fd with the wrong session.
  if (fd >= 0 && f->fd < 0) { free(f); conn_close(c, "out of file descriptors queueing a master"); return; }
  memcpy(f->data, b->p, b->len);
  if (c->out_tail) c->out_tail->next = f; else c->out_head = f;
  c->out_tail = f;
  c->out_bytes += b->len;
  conn_flush(c);
}

static void send_error(struct conn *c, uint32_t req_id, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_line("error to pid %d: %s", (int)c->peer_pid, msg);
  struct buf b = {0};
  frame_start(&b, MSG_ERROR);
  put_u32(&b, req_id);
  put_str(&b, msg, strlen(msg));
  c->closing = 1;
  c->deadline_ms = now_ms() + CLOSE_LINGER_MS;
  queue_frame(c, &b, -1);
  free(b.p);
}

static void send_spawn_failed(struct conn *c, uint32_t req_id, int err, const char *fmt, ...) {
  if (!c) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct buf b = {0};
  frame_start(&b, MSG_SPAWN_FAILED);
  put_u32(&b, req_id);
  put_u32(&b, (uint32_t)err);
  put_str(&b, msg, strlen(msg));
  queue_frame(c, &b, -1);
  free(b.p);
}

static void send_held(struct conn *c, const struct entry *e) {
  struct buf b = {0};
  frame_start(&b, MSG_HELD);
  put_str(&b, e->key, e->key_len);
  put_u32(&b, (uint32_t)e->pid);
  put_u8(&b, e->state == ENTRY_EXITED ? 1 : 0);
  put_u32(&b, (uint32_t)e->exit_code);
  put_u32(&b, (uint32_t)e->signal);
  queue_frame(c, &b, e->master);
  free(b.p);
}

// ---- sessions ---------------------------------------------------------------

static struct entry *find_key(const char *key, uint32_t len) {
  for (int i = 0; i < n_entries; i++)
    if (entries[i]->key_len == len && memcmp(entries[i]->key, key, len) == 0) return entries[i];
  return NULL;
}

static struct entry *find_pid(pid_t pid) {
  for (int i = 0; i < n_entries; i++)
    if (entries[i]->pid == pid) return entries[i];
  return NULL;
}

static void entry_remove(struct entry *e) {
  for (int i = 0; i < n_entries; i++) {
    if (entries[i] != e) continue;
    entries[i] = entries[--n_entries];
    break;
  }
  if (e->master >= 0) close(e->master);
  if (e->exec_pipe >= 0) close(e->exec_pipe);
  free(e->key);
  free(e);
  if (n_entries == 0) idle_since_ms = now_ms();
}

// What the child writes to its CLOEXEC pipe when it cannot exec; EOF means exec succeeded.
struct child_error {
  int err;
  char what[512]; // "chdir /no/such/dir": the step and its path, so the user sees what to fix
};

// Looks for `file` like execvp, but in the PATH of the environment the shell gets.
static void exec_search(const char *file, char **argv, char **envp) {
  if (strchr(file, '/')) { execve(file, argv, envp); return; }
  const char *path = "/usr/local/bin:/usr/bin:/bin";
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  int saw_eacces = 0;
  char full[PATH_MAX];
  for (const char *dir = path; ; ) {
    const char *end = strchrnul(dir, ':');
    int n = snprintf(full, sizeof full, "%.*s%s%s", (int)(end - dir), dir, end == dir ? "" : "/", file);
    if (n > 0 && (size_t)n < sizeof full) {
      execve(full, argv, envp);
      if (errno == EACCES) saw_eacces = 1;
    }
    if (!*end) break;
    dir = end + 1;
  }
  if (saw_eacces) errno = EACCES;
}

static void report_child_error(int pipe_fd, const char *step, const char *path) {
  struct child_error ce = {.err = errno};
  snprintf(ce.what, sizeof ce.what, "%s%s%s", step, path ? " " : "", path ? path : "");
  if (write(pipe_fd, &ce, sizeof ce) < 0) { /* the parent then sees an exec that "worked" and the exit 127 */ }
  _exit(127);
}

// In the forked child: a clean process for the shell, then exec.
static void child_exec(int slave, int err_pipe, const char *file, char **argv, char **envp, const char *cwd) {
  // The holder ignores SIGHUP/SIGPIPE and exec keeps ignored signals ignored: a shell
  // that ignored SIGHUP would survive its session's kill.
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  // The holder raised its fd limit for its masters; a shell's select()-based programs want the usual one.
  setrlimit(RLIMIT_NOFILE, &original_nofile);
  if (setsid() < 0) report_child_error(err_pipe, "setsid", NULL);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) report_child_error(err_pipe, "TIOCSCTTY", NULL);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) report_child_error(err_pipe, "dup2", NULL);
  if (slave > 2) close(slave);
  // Every fd of the holder is opened CLOEXEC already; this also catches anything
  // inherited from whoever started the holder.
#ifdef SYS_close_range
  syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
  if (chdir(cwd) < 0) report_child_error(err_pipe, "chdir", cwd);
  exec_search(file, argv, envp);
  report_child_error(err_pipe, "execve", file);
}

// The same line discipline settings node-pty gives its ptys, so a shell cannot tell
// which of the two started it (IUTF8 matters to line editing of UTF-8 input).
static void set_termios(int slave) {
  struct termios t;
  if (tcgetattr(slave, &t) < 0) return;
  t.c_iflag = ICRNL | IXON | IXANY | IMAXBEL | BRKINT | IUTF8;
  t.c_oflag = OPOST | ONLCR;
  t.c_cflag = CREAD | CS8 | HUPCL;
  t.c_lflag = ICANON | ISIG | IEXTEN | ECHO | ECHOE | ECHOK | ECHOKE | ECHOCTL;
  t.c_cc[VEOF] = 4; t.c_cc[VEOL] = 0xff; t.c_cc[VEOL2] = 0xff; t.c_cc[VERASE] = 0x7f;
  t.c_cc[VWERASE] = 23; t.c_cc[VKILL] = 21; t.c_cc[VREPRINT] = 18; t.c_cc[VINTR] = 3;
  t.c_cc[VQUIT] = 0x1c; t.c_cc[VSUSP] = 26; t.c_cc[VSTART] = 17; t.c_cc[VSTOP] = 19;
  t.c_cc[VLNEXT] = 22; t.c_cc[VDISCARD] = 15; t.c_cc[VMIN] = 1; t.c_cc[VTIME] = 0;
  cfsetispeed(&t, B38400);
  cfsetospeed(&t, B38400);
  tcsetattr(slave, TCSANOW, &t);
}

// A new pty pair: master and slave both CLOEXEC, window size set. -1 with errno on failure.
static int open_pty(int *master_out, int *slave_out, uint16_t cols, uint16_t rows, const char **step) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  *step = "posix_openpt";
  if (master < 0) return -1;
  char name[128];
  int slave = -1;
  if (grantpt(master) == 0 && unlockpt(master) == 0 && ptsname_r(master, name, sizeof name) == 0)
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  *step = "open pty slave";
  if (slave < 0) { int e = errno; close(master); errno = e; return -1; }
  struct winsize ws = {.ws_row = rows, .ws_col = cols};
  ioctl(master, TIOCSWINSZ, &ws);
  set_termios(slave);
  *master_out = master;
  *slave_out = slave;
  return 0;
}

struct spawn_req {
  uint32_t req_id;
  const char *key;
  uint32_t key_len;
  char *file, *cwd;
  char **argv, **envp;
  uint16_t cols, rows;
};

// Forks the shell; the entry waits in ENTRY_STARTING until the exec pipe says how exec went.
static void spawn_session(struct conn *c, const struct spawn_req *r) {
  if (n_entries >= MAX_SESSIONS) { send_spawn_failed(c, r->req_id, EAGAIN, "the holder already holds %d sessions, its limit", MAX_SESSIONS); return; }
  if (find_key(r->key, r->key_len)) { send_spawn_failed(c, r->req_id, EEXIST, "a session with this key is already held"); return; }
  struct entry *e = calloc(1, sizeof *e);
  struct entry **grown = realloc(entries, (size_t)(n_entries + 1) * sizeof *entries);
  char *key = malloc(r->key_len ? r->key_len : 1);
  if (grown) entries = grown;
  if (!e || !grown || !key) { free(e); free(key); send_spawn_failed(c, r->req_id, ENOMEM, "out of memory"); return; }
  const char *step;
  int master, slave, pipe_fds[2];
  if (open_pty(&master, &slave, r->cols, r->rows, &step) < 0) goto fail;
  step = "pipe";
  if (pipe2(pipe_fds, O_CLOEXEC) < 0) { int err = errno; close(master); close(slave); errno = err; goto fail; }
  // Signals stay blocked across fork so no handler of the holder runs in the child.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    child_exec(slave, pipe_fds[1], r->file, r->argv, r->envp, r->cwd);
  }
  int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(slave);
  close(pipe_fds[1]);
  step = "fork";
  if (pid < 0) { close(master); close(pipe_fds[0]); errno = fork_errno; goto fail; }
  fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  memcpy(key, r->key, r->key_len);
  *e = (struct entry){.key = key, .key_len = r->key_len, .pid = pid, .master = master, .exec_pipe = pipe_fds[0],
                      .req_id = r->req_id, .requester = c->serial, .state = ENTRY_STARTING};
  entries[n_entries++] = e;
  return;
fail:;
  int err = errno;
  free(e);
  free(key);
  send_spawn_failed(c, r->req_id, err, "%s: %s", step, strerror(err));
}

// Settles a starting entry from its exec pipe: SPAWNED (exec worked: EOF) or SPAWN_FAILED.
static void settle_start(struct entry *e) {
  struct child_error ce;
  ssize_t n = read(e->exec_pipe, &ce, sizeof ce);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  close(e->exec_pipe);
  e->exec_pipe = -1;
  struct conn *req = conn_by_serial(e->requester);
  if (n > 0) {
    if (n != (ssize_t)sizeof ce) ce = (struct child_error){.err = EIO, .what = "exec (short error report)"};
    ce.what[sizeof ce.what - 1] = 0;
    log_line("spawn of pid %d failed: %s: %s", (int)e->pid, ce.what, strerror(ce.err));
    send_spawn_failed(req, e->req_id, ce.err, "%s: %s", ce.what, strerror(ce.err));
    entry_remove(e); // its child exits 127 and is reaped without an entry
    return;
  }
  e->state = ENTRY_RUNNING;
  log_line("spawned pid %d for %.*s", (int)e->pid, (int)(e->key_len > 200 ? 200 : e->key_len), e->key);
  if (req && req == daemon_conn) {
    struct buf b = {0};
    frame_start(&b, MSG_SPAWNED);
    put_u32(&b, e->req_id);
    put_str(&b, e->key, e->key_len);
    put_u32(&b, (uint32_t)e->pid);
    queue_frame(req, &b, e->master);
    free(b.p);
  } else if (daemon_conn) {
    send_held(daemon_conn, e); // its requester was replaced meanwhile: the new daemon adopts it
  }
}

// Collects every exited child: its status stays in the entry until FORGET.
static void reap_children(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    struct entry *e = find_pid(pid);
    if (!e) continue; // forgotten, or an exec that failed
    if (e->state == ENTRY_STARTING) {
      settle_start(e); // the child is gone, so its pipe holds the answer (data or EOF)
      if (!find_pid(pid)) continue;
    }
    e->state = ENTRY_EXITED;
    e->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    e->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    log_line("pid %d exited: code %d signal %d", (int)pid, e->exit_code, e->signal);
    if (!daemon_conn) continue; // reported in HELD to the next daemon
    struct buf b = {0};
    frame_start(&b, MSG_EXITED);
    put_str(&b, e->key, e->key_len);
    put_u32(&b, (uint32_t)e->pid);
    put_u32(&b, (uint32_t)e->exit_code);
    put_u32(&b, (uint32_t)e->signal);
    queue_frame(daemon_conn, &b, -1);
    free(b.p);
  }
}

// Hangs up every session (SHUTDOWN force): their programs get SIGHUP as from a closed terminal.
static void hang_up_all(void) {
  for (int i = 0; i < n_entries; i++) {
    if (entries[i]->state == ENTRY_EXITED) continue;
    kill(-entries[i]->pid, SIGHUP);
    kill(entries[i]->pid, SIGHUP);
  }
  while (n_entries > 0) entry_remove(entries[n_entries - 1]);
}

// ---- requests ---------------------------------------------------------------

static void on_hello(struct conn *c, struct reader *r) {
  uint32_t version = get_u32(r);
  if (r->bad) { send_error(c, 0, "malformed HELLO"); return; }
  if (version != PROTOCOL_VERSION) {
    send_error(c, 0, "holder protocol version %u, daemon speaks %u: stop the old tshpool daemon and holder "
               "(tshpool daemon stop; kill %d) so the installed version starts both", PROTOCOL_VERSION, version, (int)getpid());
    return;
  }
  c->said_hello = 1;
  // A daemon that arrives after a SHUTDOWN wants the holder after all: it stays.
  shutting_down = 0;
  struct conn *previous = daemon_conn;
  daemon_conn = c;
  struct buf b = {0};
  frame_start(&b, MSG_WELCOME);
  put_u32(&b, PROTOCOL_VERSION);
  put_u32(&b, (uint32_t)getpid());
  put_u32(&b, (uint32_t)n_entries);
  queue_frame(c, &b, -1);
  for (int i = 0; i < n_entries && c->fd >= 0; i++)
    if (entries[i]->state != ENTRY_STARTING) send_held(c, entries[i]);
  frame_start(&b, MSG_END_OF_LIST);
  queue_frame(c, &b, -1);
  log_line("adopted by pid %d (%d sessions)", (int)c->peer_pid, n_entries);
  if (previous && previous != c) {
    frame_start(&b, MSG_SUPERSEDED);
    previous->closing = 1;
    previous->deadline_ms = now_ms() + CLOSE_LINGER_MS;
    queue_frame(previous, &b, -1);
  }
  free(b.p);
}

static void on_spawn(struct conn *c, struct reader *r) {
  struct spawn_req q = {0};
  int has_nul = 0;
  q.req_id = get_u32(r);
  q.key = get_str(r, &q.key_len);
  q.file = get_cstr(r, &has_nul);
  q.argv = q.file ? get_strv(r, &has_nul) : NULL;
  q.envp = q.argv ? get_strv(r, &has_nul) : NULL;
  q.cwd = q.envp ? get_cstr(r, &has_nul) : NULL;
  q.cols = get_u16(r);
  q.rows = get_u16(r);
  if (r->bad) send_error(c, q.req_id, "malformed SPAWN");
  else if (q.key_len > MAX_KEY_BYTES) send_spawn_failed(c, q.req_id, ENAMETOOLONG, "session key longer than %u bytes", MAX_KEY_BYTES);
  else if (has_nul) send_spawn_failed(c, q.req_id, EINVAL, "a file, argument, variable or directory contains a NUL byte");
  else if (!q.argv[0] || !*q.file) send_spawn_failed(c, q.req_id, EINVAL, "no program to run (empty file or argv)");
  else spawn_session(c, &q);
  free(q.file);
  free(q.cwd);
  free_strv(q.argv);
  free_strv(q.envp);
}

static void on_forget(struct conn *c, struct reader *r) {
  uint32_t len;
  const char *key = get_str(r, &len);
  if (r->bad) { send_error(c, 0, "malformed FORGET"); return; }
  struct entry *e = find_key(key, len);
  if (!e) return; // forgetting twice is harmless
  log_line("forgot pid %d (%s)", (int)e->pid, e->state == ENTRY_EXITED ? "exited" : "running");
  if (e->state == ENTRY_STARTING) kill(e->pid, SIGKILL); // nobody will ever hear of it
  entry_remove(e);
  if (shutting_down && n_entries == 0) log_line("last session forgotten after SHUTDOWN");
}

static void on_kill(struct conn *c, struct reader *r) {
  uint32_t len;
  const char *key = get_str(r, &len);
  int32_t sig = (int32_t)get_u32(r);
  uint8_t group = get_u8(r);
  if (r->bad || sig <= 0 || sig >= NSIG) { send_error(c, 0, "malformed KILL"); return; }
  struct entry *e = find_key(key, len);
  // An exited entry's pid is reaped and may belong to someone else by now.
  if (!e || e->state == ENTRY_EXITED) return;
  if (group) kill(-e->pid, sig);
  kill(e->pid, sig);
}

static void on_shutdown(struct conn *c, struct reader *r) {
  uint8_t force = get_u8(r);
  if (r->bad) { send_error(c, 0, "malformed SHUTDOWN"); return; }
  log_line("shutdown requested by pid %d%s, %d sessions held", (int)c->peer_pid, force ? " (force)" : "", n_entries);
  shutting_down = 1;
  if (force) hang_up_all();
}

static void on_frame(struct conn *c, uint8_t type, const uint8_t *payload, size_t len) {
  struct reader r = {payload, len, 0};
  if (!c->said_hello && type != MSG_HELLO) { send_error(c, 0, "the first frame must be HELLO (type %u), got type %u", MSG_HELLO, type); return; }
  switch (type) {
  case MSG_HELLO:
    if (c->said_hello) send_error(c, 0, "HELLO sent twice");
    else on_hello(c, &r);
    return;
  case MSG_SPAWN: on_spawn(c, &r); return;
  case MSG_FORGET: on_forget(c, &r); return;
  case MSG_KILL: on_kill(c, &r); return;
  case MSG_SHUTDOWN: on_shutdown(c, &r); return;
  default: send_error(c, 0, "unknown frame type %u", type); return;
  }
}

// Reads what the peer sent and handles each complete frame.
static void conn_read(struct conn *c) {
  if (c->in_cap - c->in_len < READ_CHUNK_BYTES) {
    size_t cap = c->in_len + READ_CHUNK_BYTES;
    uint8_t *p = realloc(c->in, cap);
    if (!p) { conn_close(c, "out of memory reading a request"); return; }
    c->in = p;
    c->in_cap = cap;
  }
  // recv without a control buffer: fds a peer might send are closed by the kernel.
  ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) conn_close(c, strerror(errno));
    return;
  }
  if (n == 0) { conn_close(c, "peer closed the connection"); return; }
  c->in_len += (size_t)n;
  size_t at = 0;
  while (c->fd >= 0 && !c->closing && c->in_len - at >= 4) {
    const uint8_t *p = c->in + at;
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len == 0 || len > MAX_FRAME_BYTES) { send_error(c, 0, "frame of %u bytes: must be 1 to %u", len, MAX_FRAME_BYTES); break; }
    if (c->in_len - at - 4 < len) break;
    on_frame(c, p[4], p + 5, len - 1);
    at += 4 + (size_t)len;
  }
  if (c->fd < 0 || c->closing) return;
  memmove(c->in, c->in + at, c->in_len - at);
  c->in_len -= at;
}

static void accept_connections(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    struct ucred cred = {0};
    socklen_t len = sizeof cred;
    struct conn *c = NULL;
    for (int i = 0; i < MAX_CONNECTIONS && !c; i++)
      if (conns[i].fd < 0) c = &conns[i];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) cred.uid = (uid_t)-1;
    if (!c) { log_line("refused pid %d: %d connections open already", (int)cred.pid, MAX_CONNECTIONS); close(fd); continue; }
    *c = (struct conn){.fd = fd, .serial = next_serial++, .peer_pid = cred.pid, .deadline_ms = now_ms() + HELLO_TIMEOUT_MS};
    if (cred.uid != getuid()) {
      send_error(c, 0, "permission denied: this holder serves uid %u only, you are uid %u", (unsigned)getuid(), (unsigned)cred.uid);
      log_line("refused pid %d of uid %u", (int)cred.pid, (unsigned)cred.uid);
    }
  }
}

// ---- start-up and the loop --------------------------------------------------

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(signal_pipe[1], &b, 1) < 0) { /* a full pipe already holds a wake-up */ }
  errno = saved;
}

static void install_signals(void) {
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) { perror("tshpool-holder: pipe"); exit(1); }
  struct sigaction sa = {0};
  sa.sa_handler = SIG_IGN;
  sigaction(SIGHUP, &sa, NULL);  // the terminal that started the daemon going away is not a reason to stop
  sigaction(SIGPIPE, &sa, NULL); // a daemon that died mid-reply shows up as EPIPE instead
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

// Binds the socket under a lock so two holders starting at once cannot both take it.
static void bind_socket(const char *lock_path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    fprintf(stderr, "tshpool-holder: socket path longer than %zu bytes: %s\n", sizeof addr.sun_path - 1, socket_path);
    exit(EXIT_USAGE);
  }
  strcpy(addr.sun_path, socket_path);
  int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) { fprintf(stderr, "tshpool-holder: cannot open %s: %s\n", lock_path, strerror(errno)); exit(1); }
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
    fprintf(stderr, "tshpool-holder: another holder is running on %s\n", socket_path);
    exit(EXIT_ALREADY_RUNNING);
  }
  unlink(socket_path); // stale: its holder died (we hold the lock)
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  mode_t old = umask(0177);
  int ok = listen_fd >= 0 && bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(listen_fd, 64) == 0;
  umask(old);
  if (!ok) { fprintf(stderr, "tshpool-holder: cannot listen on %s: %s\n", socket_path, strerror(errno)); exit(1); }
  // The lock fd stays open (CLOEXEC) for the holder's lifetime.
}

// Enough fds for MAX_SESSIONS masters, their queued dups and the connections.
static void raise_fd_limit(void) {
  getrlimit(RLIMIT_NOFILE, &original_nofile);
  struct rlimit want = original_nofile;
  rlim_t need = 2 * MAX_SESSIONS + 64;
  if (want.rlim_cur >= need) return;
  want.rlim_cur = want.rlim_max == RLIM_INFINITY || want.rlim_max > need ? need : want.rlim_max;
  setrlimit(RLIMIT_NOFILE, &want);
}

static void parse_args(int argc, char **argv, const char **log_path) {
  for (int i = 1; i < argc; i++) {
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--socket") == 0 && next) socket_path = argv[++i];
    else if (strcmp(argv[i], "--log") == 0 && next) *log_path = argv[++i];
    else if (strcmp(argv[i], "--idle-exit-ms") == 0 && next) idle_exit_ms = atoll(argv[++i]);
    else {
      fprintf(stderr, "usage: tshpool-holder --socket PATH [--log PATH] [--idle-exit-ms N]\n"
                      "(started by the tshpool daemon; see docs/architecture.md)\n");
      exit(EXIT_USAGE);
    }
  }
  if (!socket_path) { fprintf(stderr, "tshpool-holder: --socket PATH is required\n"); exit(EXIT_USAGE); }
}

// Announces readiness to the starter, then lets go of its stdio (a pipe it may be
// waiting on, or a terminal the holder must not keep open).
static void announce_ready(void) {
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return;
  for (int fd = 0; fd < 3; fd++) dup2(null_fd, fd);
  close(null_fd);
}

static int poll_timeout_ms(int64_t now) {
  int64_t wake = INT64_MAX;
  for (int i = 0; i < MAX_CONNECTIONS; i++)
    if (conns[i].fd >= 0 && (!conns[i].said_hello || conns[i].closing) && conns[i].deadline_ms < wake) wake = conns[i].deadline_ms;
  int idle = n_entries == 0 && !daemon_conn;
  if (idle && idle_since_ms + idle_exit_ms < wake) wake = idle_since_ms + idle_exit_ms;
  if (wake == INT64_MAX) return -1;
  return wake <= now ? 0 : (int)(wake - now > INT_MAX ? INT_MAX : wake - now);
}

// Returns 0 when the holder should exit.
static int handle_signals(void) {
  unsigned char sigs[64];
  ssize_t n;
  int keep_running = 1;
  while ((n = read(signal_pipe[0], sigs, sizeof sigs)) > 0)
    for (ssize_t i = 0; i < n; i++) {
      if (sigs[i] == SIGCHLD) reap_children();
      else { log_line("exiting on signal %d, %d sessions held", sigs[i], n_entries); keep_running = 0; }
    }
  return keep_running;
}

static void check_deadlines(int64_t now) {
  for (int i = 0; i < MAX_CONNECTIONS; i++) {
    struct conn *c = &conns[i];
    if (c->fd < 0 || now < c->deadline_ms) continue;
    if (c->closing) conn_close(c, "did not take its last replies in time");
    else if (!c->said_hello) conn_close(c, "no HELLO in time");
  }
}

static void run_loop(void) {
  enum { MAX_POLL = 2 + MAX_CONNECTIONS + MAX_SESSIONS };
  static struct pollfd pfds[MAX_POLL];
  static pid_t starting_pid[MAX_POLL];
  idle_since_ms = now_ms();
  for (;;) {
    int n = 0;
    pfds[n++] = (struct pollfd){.fd = signal_pipe[0], .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    int first_conn = n;
    for (int i = 0; i < MAX_CONNECTIONS; i++)
      pfds[n++] = (struct pollfd){.fd = conns[i].fd, .events = (short)((conns[i].closing ? 0 : POLLIN) | (conns[i].out_head ? POLLOUT : 0))};
    int first_pipe = n;
    for (int i = 0; i < n_entries; i++)
      if (entries[i]->exec_pipe >= 0) { starting_pid[n] = entries[i]->pid; pfds[n++] = (struct pollfd){.fd = entries[i]->exec_pipe, .events = POLLIN}; }
    if (poll(pfds, (nfds_t)n, poll_timeout_ms(now_ms())) < 0 && errno != EINTR) { log_line("poll: %s", strerror(errno)); return; }
    if ((pfds[0].revents & POLLIN) && !handle_signals()) return;
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
      short ev = pfds[first_conn + i].revents;
      struct conn *c = &conns[i];
      if (c->fd < 0 || c->fd != pfds[first_conn + i].fd || !ev) continue;
      if (ev & POLLOUT) conn_flush(c);
      if (c->fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR))) {
        if (c->closing) conn_close(c, "hung up");
        else conn_read(c);
      }
    }
    for (int i = first_pipe; i < n; i++) {
      struct entry *e = pfds[i].revents ? find_pid(starting_pid[i]) : NULL;
      if (e && e->state == ENTRY_STARTING) settle_start(e);
    }
    if (pfds[1].revents & POLLIN) accept_connections();
    int64_t now = now_ms();
    check_deadlines(now);
    if (shutting_down && n_entries == 0) { log_line("exiting: shutdown requested and no session left"); return; }
    if (n_entries == 0 && !daemon_conn && now - idle_since_ms >= idle_exit_ms) {
      for (int i = 0; i < MAX_CONNECTIONS; i++)
        if (conns[i].fd >= 0) idle_since_ms = now; // someone is connecting: stay
      if (now - idle_since_ms >= idle_exit_ms) { log_line("exiting: no session and no daemon for %lld ms", (long long)idle_exit_ms); return; }
    }
  }
}

int main(int argc, char **argv) {
  const char *log_path = NULL;
  parse_args(argc, argv, &log_path);
  if (log_path) log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  for (int i = 0; i < MAX_CONNECTIONS; i++) conns[i].fd = -1;
  char lock_path[PATH_MAX];
  snprintf(lock_path, sizeof lock_path, "%s.lock", socket_path);
  install_signals();
  raise_fd_limit();
  bind_socket(lock_path);
  if (chdir("/") < 0) { /* only so the holder pins no mount; a failure changes nothing else */ }
  log_line("started on %s", socket_path);
  announce_ready();
  run_loop();
  // Exiting closes the masters without signalling anyone: shells whose daemon
  // still holds a copy keep running; the others get SIGHUP from their terminal.
  unlink(socket_path);
  return 0;
}
