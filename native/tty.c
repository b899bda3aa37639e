// Output processing off for the attach client's terminal. Node's setRawMode
// (libuv) keeps OPOST/ONLCR on, so every "\n" the session sends reaches the
// user's terminal as "\r\n" (a "\r\r\n" after the session's own pty did the same),
// and programs that turn onlcr off in the session get their bare line feeds
// rewritten. A raw terminal must pass the session's bytes through untouched, as
// tmux and dtach do. libuv restores the original settings on setRawMode(false).
#include <termios.h>
#include "addon.h"

// disableOutputProcessing(fd: number): void
napi_value DisableOutputProcessing(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "disableOutputProcessing(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct termios t;
  if (tcgetattr(fd, &t) != 0) return throw_errno(env, "tcgetattr");
  t.c_oflag &= ~OPOST;
  if (tcsetattr(fd, TCSANOW, &t) != 0) return throw_errno(env, "tcsetattr");
  return NULL;
}
