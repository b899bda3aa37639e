/*
 * leanterm: the benchmark's terminal, in C, so that nothing but the kernel sits
 * between a tool and the clock. A Node harness adds ~100+ µs of its own event
 * loop to every measurement and compresses every ratio (issue 20); this program
 * reads the pty master with poll()/read() into a static buffer and timestamps with
 * CLOCK_MONOTONIC.
 *
 *   leanterm --cols C --rows R [--tti MS] -- FILE ARGS...   a terminal running FILE
 *   leanterm --run N -- FILE ARGS...                        times N runs of FILE (no pty)
 *
 * As a terminal it prints {"pid":N} (the program on the pty), then, with --tti,
 * the time from fork to a command's answer; then it executes one command per line
 * of stdin and answers each with one JSON line on stdout:
 *   ready MS [SUFFIX_HEX]        type `echo RE""ADY_<tag><suffix>`, wait for READY_<tag>
 *   flood LINES MS [CHUNK US]    type `seq 1 LINES; echo EN""D_<tag>`; time from the Enter to
 *                                END_<tag> and the bytes received up to it; with CHUNK/US the
 *                                terminal reads at most CHUNK bytes then sleeps US µs (a slow link)
 *   echo COUNT MS                COUNT single keystrokes (x, y, z) each timed to its echo, an
 *                                Enter every 50 (waited for, not timed): samples in µs
 *   write HEX                    write bytes to the terminal
 *   idle MS                      read (and discard) for MS ms
 * Between commands, and while a command runs, output is read continuously (except
 * in the paced part of a slow flood). When the program's side closes it prints
 * {"event":"exit","code":C,"signal":S} and exits. EOF on stdin kills the program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF_BYTES 65536
#define MAX_NEEDLE_BYTES 256
#define MAX_LINE_BYTES 4096
#define MAX_ECHO_SAMPLES 100000
#define ECHO_LINE_KEYS 50
#define RECENT_BYTES 400
/* How often the idle loop checks whether the program exited. */
#define EXIT_CHECK_MS 20

static int master_fd = -1;
static pid_t child_pid = -1;
static unsigned long long total_bytes = 0;
static unsigned char buf[READ_BUF_BYTES];
static unsigned char recent[RECENT_BYTES];
static size_t recent_len = 0;
static double spawn_at = 0;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void remember(const unsigned char *d, size_t n) {
  if (n >= RECENT_BYTES) {
    memcpy(recent, d + n - RECENT_BYTES, RECENT_BYTES);
    recent_len = RECENT_BYTES;
    return;
  }
  if (recent_len + n > RECENT_BYTES) {
    size_t drop = recent_len + n - RECENT_BYTES;
    memmove(recent, recent + drop, recent_len - drop);
    recent_len -= drop;
  }
  memcpy(recent + recent_len, d, n);
  recent_len += n;
}

/* The last output as a JSON string body (printable ASCII only), for error messages. */
static void print_recent(void) {
  for (size_t i = 0; i < recent_len; i++) {
    unsigned char c = recent[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c >= 32 && c < 127) putchar(c);
    else printf(".");
  }
}

/* Reports the program's exit status and leaves. */
static void report_exit(int status) {
  printf("{\"event\":\"exit\",\"code\":%d,\"signal\":%d}\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  fflush(stdout);
  exit(0);
}

/* The terminal's other side is closed (every holder of the pty closed it). */
static void child_gone(void) {
  int status = 0;
  if (child_pid > 0) waitpid(child_pid, &status, 0);
  report_exit(status);
}

static void write_all(const void *data, size_t n) {
  const unsigned char *p = data;
  while (n > 0) {
    ssize_t w = write(master_fd, p, n);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      child_gone();
    }
    p += w;
    n -= (size_t)w;
  }
}

/* One read of at most `max` bytes; returns bytes read (0 if none ready in `timeout_ms`). */
static size_t read_some(int timeout_ms, size_t max) {
  struct pollfd p = {master_fd, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r <= 0) return 0;
  ssize_t n = read(master_fd, buf, max > READ_BUF_BYTES ? READ_BUF_BYTES : max);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) child_gone();
  total_bytes += (unsigned long long)n;
  remember(buf, (size_t)n);
  return (size_t)n;
}

/* A needle searched for in output arriving from now on, across read boundaries. */
struct waiter {
  const char *needle;
  size_t len;
  unsigned char carry[MAX_NEEDLE_BYTES];
  size_t carry_len;
};

static void waiter_init(struct waiter *w, const char *needle) {
  w->needle = needle;
  w->len = strlen(needle);
  w->carry_len = 0;
}

/* Looks for the needle in the last read of n bytes; on a hit sets *bytes_at to the count up to its end. */
static int waiter_feed(struct waiter *w, size_t n, unsigned long long *bytes_at) {
  unsigned char joined[MAX_NEEDLE_BYTES * 2];
  size_t head = n < MAX_NEEDLE_BYTES ? n : MAX_NEEDLE_BYTES;
  memcpy(joined, w->carry, w->carry_len);
  memcpy(joined + w->carry_len, buf, head);
  unsigned char *hit = memmem(joined, w->carry_len + head, w->needle, w->len);
  if (hit) {
    size_t end = (size_t)(hit - joined) + w->len - w->carry_len;
    *bytes_at = total_bytes - n + end;
    return 1;
  }
  hit = memmem(buf, n, w->needle, w->len);
  if (hit) {
    *bytes_at = total_bytes - n + (size_t)(hit - buf) + w->len;
    return 1;
  }
  /* Keep the last len-1 bytes of the stream: a needle may start in this read and end in the next. */
  size_t want = w->len - 1;
  if (n >= want) {
    memcpy(w->carry, buf + n - want, want);
    w->carry_len = want;
  } else {
    size_t old = w->carry_len < want - n ? w->carry_len : want - n;
    memmove(w->carry, w->carry + w->carry_len - old, old);
    memcpy(w->carry + old, buf, n);
    w->carry_len = old + n;
  }
  return 0;
}

/*
 * Reads until `needle` arrives; returns the arrival time (ms) or a negative value on
 * timeout. `chunk`/`pause_us` pace the reads (0 = read as fast as possible).
 */
static double wait_for(const char *needle, double timeout_ms, size_t chunk, long pause_us, unsigned long long *bytes_at) {
  struct waiter w;
  unsigned long long dummy;
  waiter_init(&w, needle);
  double deadline = now_ms() + timeout_ms;
  for (;;) {
    double left = deadline - now_ms();
    if (left <= 0) return -1;
    size_t n = read_some((int)left + 1, chunk ? chunk : READ_BUF_BYTES);
    if (n == 0) continue;
    double at = now_ms();
    if (waiter_feed(&w, n, bytes_at ? bytes_at : &dummy)) return at;
    if (pause_us > 0) {
      struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

static void tag(char *out, size_t n) {
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  for (size_t i = 0; i + 1 < n; i++) out[i] = alphabet[random() % 32];
  out[n - 1] = 0;
}

static void fail(const char *what) {
  printf("{\"ok\":false,\"error\":\"timed out waiting for %s; last output: ", what);
  print_recent();
  printf("\"}\n");
  fflush(stdout);
}

static int unhex(const char *hex, char *out, size_t max) {
  size_t n = 0;
  while (hex[0] && hex[1] && n + 1 < max) {
    unsigned int b;
    if (sscanf(hex, "%2x", &b) != 1) break;
    out[n++] = (char)b;
    hex += 2;
  }
  out[n] = 0;
  return (int)n;
}

static void cmd_ready(double timeout_ms, const char *suffix_hex) {
  char t[7], suffix[MAX_LINE_BYTES], line[MAX_LINE_BYTES + 64], needle[32];
  tag(t, sizeof t);
  unhex(suffix_hex ? suffix_hex : "", suffix, sizeof suffix);
  snprintf(needle, sizeof needle, "READY_%s", t);
  int n = snprintf(line, sizeof line, "echo RE\"\"ADY_%s%s\r", t, suffix);
  double t0 = now_ms();
  write_all(line, (size_t)n);
  double at = wait_for(needle, timeout_ms, 0, 0, NULL);
  if (at < 0) return fail(needle);
  printf("{\"ok\":true,\"ms\":%.3f}\n", at - t0);
}

static void cmd_flood(long lines, double timeout_ms, size_t chunk, long pause_us) {
  char t[7], line[128], needle[32];
  tag(t, sizeof t);
  snprintf(needle, sizeof needle, "END_%s", t);
  int n = snprintf(line, sizeof line, "seq 1 %ld; echo EN\"\"D_%s\r", lines, t);
  unsigned long long b0 = total_bytes, bytes_at = 0;
  double t0 = now_ms();
  write_all(line, (size_t)n);
  double at = wait_for(needle, timeout_ms, chunk, pause_us, &bytes_at);
  if (at < 0) return fail(needle);
  printf("{\"ok\":true,\"time_s\":%.6f,\"bytes\":%llu}\n", (at - t0) / 1e3, bytes_at - b0);
}

static double samples[MAX_ECHO_SAMPLES];

static void cmd_echo(long count, double timeout_ms) {
  char line[ECHO_LINE_KEYS + 1];
  size_t line_len = 0;
  if (count > MAX_ECHO_SAMPLES) count = MAX_ECHO_SAMPLES;
  for (long i = 0; i < count; i++) {
    char key[2] = {"xyz"[i % 3], 0};
    double t0 = now_ms();
    write_all(key, 1);
    double at = wait_for(key, timeout_ms, 0, 0, NULL);
    if (at < 0) return fail("the echo of a keystroke");
    samples[i] = (at - t0) * 1e3;
    line[line_len++] = key[0];
    line[line_len] = 0;
    if (line_len >= ECHO_LINE_KEYS || i + 1 == count) {
      write_all("\r", 1);
      if (wait_for(line, 2000, 0, 0, NULL) < 0) return fail("cat printing the line back");
      line_len = 0;
    }
  }
  printf("{\"ok\":true,\"samples\":[");
  for (long i = 0; i < count; i++) printf("%s%.1f", i ? "," : "", samples[i]);
  printf("]}\n");
}

/*
 * Time to interactive: types `echo $((K*7))` at once (after Ctrl-U, which drops what
 * a previous client left on the line) and waits for the product, timed from fork.
 */
static void cmd_tti(double timeout_ms) {
  char line[64], expect[32];
  long k;
  do {
    k = 1000000 + random() % 8000000;
    snprintf(expect, sizeof expect, "%ld", k * 7);
    snprintf(line, sizeof line, "\x15" "echo $((%ld*7))\r", k);
  } while (strstr(line, expect));
  write_all(line, strlen(line));
  double at = wait_for(expect, timeout_ms, 0, 0, NULL);
  if (at < 0) return fail(expect);
  printf("{\"ok\":true,\"ms\":%.3f}\n", at - spawn_at);
}

static void cmd_idle(double ms) {
  double end = now_ms() + ms;
  for (double left; (left = end - now_ms()) > 0;) read_some((int)left + 1, READ_BUF_BYTES);
  printf("{\"ok\":true}\n");
}

static void dispatch(char *line) {
  char hex[MAX_LINE_BYTES], data[MAX_LINE_BYTES / 2 + 1];
  long a = 0, c = 0, d = 0;
  double b = 0;
  if (sscanf(line, "ready %lf %4095s", &b, hex) == 2) cmd_ready(b, hex);
  else if (sscanf(line, "ready %lf", &b) == 1) cmd_ready(b, NULL);
  else if (sscanf(line, "flood %ld %lf %ld %ld", &a, &b, &c, &d) == 4) cmd_flood(a, b, (size_t)c, d);
  else if (sscanf(line, "flood %ld %lf", &a, &b) == 2) cmd_flood(a, b, 0, 0);
  else if (sscanf(line, "echo %ld %lf", &a, &b) == 2) cmd_echo(a, b);
  else if (sscanf(line, "idle %lf", &b) == 1) cmd_idle(b);
  else if (sscanf(line, "write %4095s", hex) == 1) {
    write_all(data, (size_t)unhex(hex, data, sizeof data));
    printf("{\"ok\":true}\n");
  } else printf("{\"ok\":false,\"error\":\"unknown command\"}\n");
  fflush(stdout);
}

/* Reads whatever is pending without blocking (output the program left before it exited). */
static void drain_pending(void) {
  while (read_some(0, READ_BUF_BYTES) > 0) {
  }
}

/*
 * The idle loop: keep reading the terminal, run each command line from stdin. The
 * program's exit is watched too, not only the pty's hang-up: a daemon that took the
 * terminal over (tshpool's handoff) may hold the pty open after its client left.
 */
static void serve(void) {
  char line[MAX_LINE_BYTES];
  size_t len = 0;
  for (;;) {
    struct pollfd p[2] = {{master_fd, POLLIN, 0}, {0, POLLIN, 0}};
    int r = poll(p, 2, EXIT_CHECK_MS);
    int status = 0;
    if (r >= 0 && waitpid(child_pid, &status, WNOHANG) == child_pid) {
      drain_pending();
      report_exit(status);
    }
    if (r <= 0) continue;
    if (p[0].revents) read_some(0, READ_BUF_BYTES);
    if (!p[1].revents) continue;
    ssize_t n = read(0, line + len, sizeof line - 1 - len);
    if (n <= 0) {
      kill(child_pid, SIGKILL);
      waitpid(child_pid, &status, 0);
      report_exit(status);
    }
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(line, '\n', len))) {
      *nl = 0;
      dispatch(line);
      size_t used = (size_t)(nl - line) + 1;
      memmove(line, nl + 1, len - used);
      len -= used;
    }
  }
}

/*
 * --run N: fork/exec FILE N times with output to /dev/null; prints the wall times
 * in ms, the CPU time (user + system, ms) of each run and its exit code.
 */
static int run_times(long n, char **argv) {
  printf("{\"ms\":[");
  int codes[1000];
  double cpu[1000];
  if (n > 1000) n = 1000;
  for (long i = 0; i < n; i++) {
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      execvp(argv[0], argv);
      _exit(127);
    }
    int status = 0;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    printf("%s%.3f", i ? "," : "", now_ms() - t0);
    cpu[i] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  printf("],\"cpu_ms\":[");
  for (long i = 0; i < n; i++) printf("%s%.1f", i ? "," : "", cpu[i]);
  printf("],\"codes\":[");
  for (long i = 0; i < n; i++) printf("%s%d", i ? "," : "", codes[i]);
  printf("]}\n");
  return 0;
}

int main(int argc, char **argv) {
  struct winsize ws = {24, 80, 0, 0};
  double tti_ms = 0;
  long runs = 0;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (!strcmp(argv[i], "--cols") && i + 1 < argc) ws.ws_col = (unsigned short)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rows") && i + 1 < argc) ws.ws_row = (unsigned short)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tti") && i + 1 < argc) tti_ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--run") && i + 1 < argc) runs = atol(argv[++i]);
    else {
      fprintf(stderr, "leanterm: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (i + 1 >= argc) {
    fprintf(stderr, "usage: leanterm [--cols C --rows R --tti MS | --run N] -- FILE ARGS...\n");
    return 2;
  }
  srandom((unsigned)(getpid() ^ (unsigned)now_ms()));
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);
  if (runs > 0) return run_times(runs, argv + i + 1);
  signal(SIGPIPE, SIG_IGN);
  spawn_at = now_ms();
  child_pid = forkpty(&master_fd, NULL, NULL, &ws);
  if (child_pid < 0) {
    perror("leanterm: forkpty");
    return 1;
  }
  if (child_pid == 0) {
    execvp(argv[i + 1], argv + i + 1);
    fprintf(stderr, "leanterm: cannot run %s: %s\n", argv[i + 1], strerror(errno));
    _exit(127);
  }
  printf("{\"pid\":%d}\n", child_pid);
  fflush(stdout);
  if (tti_ms > 0) {
    cmd_tti(tti_ms);
    fflush(stdout);
  }
  serve();
  return 0;
}
