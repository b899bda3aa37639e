// Has the peer of a connected socket hung up, without reading from it? A socket
// the daemon stopped reading (input backpressure) would otherwise hide the
// client's death behind the unread input in front of the EOF: poll() reports
// POLLRDHUP/POLLHUP as soon as the other end is closed, whatever is still queued.
#define _GNU_SOURCE
#include <poll.h>
#include "addon.h"

// peerHungUp(fd: number): boolean (never blocks: a zero timeout)
napi_value PeerHungUp(napi_env env, napi_callback_info info) {
  int fd = fd_arg(env, info, "peerHungUp(fd)");
  if (fd < 0) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLRDHUP, .revents = 0};
  if (poll(&p, 1, 0) < 0) return throw_errno(env, "poll");
  napi_value out;
  napi_get_boolean(env, (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0, &out);
  return out;
}
