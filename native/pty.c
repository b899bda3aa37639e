// What a daemon needs to drive a pty master it did not open itself (one handed
// over by tshpool-holder): node-pty does these inside its own addon, for its own
// ptys only.
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "addon.h"

// Reads up to `n` int32 arguments; false (with a TypeError pending) when one is missing or not a number.
static int int_args(napi_env env, napi_callback_info info, int32_t *out, size_t n, const char *usage) {
  size_t argc = n;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    if (i >= argc || napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  }
  return 1;
}

// setWindowSize(fd: number, cols: number, rows: number): void — TIOCSWINSZ; the
// kernel sends SIGWINCH to the pty's foreground process group.
napi_value SetWindowSize(napi_env env, napi_callback_info info) {
  int32_t a[3];
  if (!int_args(env, info, a, 3, "setWindowSize(fd, cols, rows): three integers expected")) return NULL;
  if (a[0] < 0 || a[1] <= 0 || a[2] <= 0 || a[1] > 0xffff || a[2] > 0xffff) {
    napi_throw_range_error(env, NULL, "setWindowSize(fd, cols, rows): fd >= 0, 1 <= cols, rows <= 65535");
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)a[2], .ws_col = (unsigned short)a[1]};
  if (ioctl(a[0], TIOCSWINSZ, &ws) != 0) return throw_errno(env, "ioctl(TIOCSWINSZ)");
  return NULL;
}

// foregroundProcessGroup(fd: number): number — tcgetpgrp: whose turn it is at the
// terminal (the shell, or the program it runs).
napi_value ForegroundProcessGroup(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info, "foregroundProcessGroup(fd)");
  if (fd < 0) return NULL;
  pid_t pgrp = tcgetpgrp(fd);
  if (pgrp < 0) return throw_errno(env, "tcgetpgrp");
  napi_value out;
  napi_create_int32(env, pgrp, &out);
  return out;
}

// setNonBlocking(fd: number, on: boolean): void — O_NONBLOCK on the open file
// description (shared with every process holding a dup of it).
napi_value SetNonBlocking(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  bool on = true;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "setNonBlocking(fd, on): a non-negative integer and a boolean expected");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) < 0) return throw_errno(env, "fcntl(O_NONBLOCK)");
  return NULL;
}
