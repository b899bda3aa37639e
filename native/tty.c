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
  int fd = fd_arg(env, info, "disableOutputProcessing(fd)");
  if (fd < 0) return NULL;
  struct termios t;
  if (tcgetattr(fd, &t) != 0) return throw_errno(env, "tcgetattr");
  t.c_oflag &= ~OPOST;
  if (tcsetattr(fd, TCSANOW, &t) != 0) return throw_errno(env, "tcsetattr");
  return NULL;
}
