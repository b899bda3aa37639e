// A Unix stream connection that receives file descriptors (SCM_RIGHTS), for the
// daemon's link to tshpool-holder. Node's net.Socket drops ancillary data, so the
// reads happen here, on a thread of our own doing blocking recvmsg(2); each chunk
// of bytes (with the fds that came with it) reaches JS through a thread-safe
// function, so the event loop never blocks. Sends are non-blocking (MSG_DONTWAIT)
// and made from JS; the JS side queues what the socket does not take.
//
// channelOpen(path, onEvent) -> handle; onEvent(kind, a, b) is called with
//   kind 0 (connected): a = { pid, uid } of the peer (SO_PEERCRED)
//   kind 1 (data):      a = Buffer, b = number[] of fds received with it (close-on-exec, now owned by JS)
//   kind 2 (end):       a = errno (0: the peer closed), b = message; the socket is closed, nothing follows
// channelSend(handle, buffer) -> bytes the socket took (0 when it is full); throws on other errors
// channelClose(handle): shuts the socket down; the 'end' event follows
// channelRef(handle, ref): whether the open channel keeps the event loop alive (like socket.ref/unref)
//
// The socket fd is closed only on the JS thread, after the reader thread has
// finished: a number closed while the thread still used it could be reused by an
// unrelated file.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "addon.h"

// One recvmsg; the holder's frames are small, a HELD list arrives in a few reads.
#define RECV_BUFFER_BYTES 65536
// The holder sends one fd per sendmsg, and Linux stops a read at the first chunk
// that carries fds, so a read never brings more than a few.
#define MAX_FDS_PER_READ 16
// Chunks waiting for the JS thread; beyond this the reader thread waits (and the holder queues).
#define MAX_QUEUED_EVENTS 64

enum { EV_CONNECTED = 0, EV_DATA = 1, EV_END = 2 };

struct channel {
  int fd; // -1 once closed (JS thread only)
  int refs; // the JS handle + the reader thread until its end is delivered (JS thread only)
  pthread_t thread;
  napi_threadsafe_function tsfn;
  struct sockaddr_un addr;
};

struct event {
  int kind;
  int err;
  pid_t peer_pid;
  uid_t peer_uid;
  size_t len;
  int nfds;
  int fds[MAX_FDS_PER_READ];
  uint8_t data[];
};

static void channel_unref(struct channel *ch) {
  if (--ch->refs == 0) free(ch);
}

static void close_event_fds(struct event *ev) {
  for (int i = 0; i < ev->nfds; i++) close(ev->fds[i]);
}

// From the reader thread; false when JS is gone (the event was dropped and its fds closed).
static int deliver(struct channel *ch, struct event *ev) {
  if (napi_call_threadsafe_function(ch->tsfn, ev, napi_tsfn_blocking) == napi_ok) return 1;
  close_event_fds(ev);
  free(ev);
  return 0;
}

static struct event *new_event(int kind, size_t len) {
  struct event *ev = calloc(1, sizeof *ev + len);
  if (ev) ev->kind = kind;
  return ev;
}

static void deliver_end(struct channel *ch, int err) {
  struct event *ev = new_event(EV_END, 0);
  if (!ev) return; // JS then never hears the end: nothing better to do without memory
  ev->err = err;
  deliver(ch, ev);
}

// Collects the SCM_RIGHTS fds of one recvmsg into ev; false when some were cut off.
static int take_fds(struct msghdr *msg, struct event *ev) {
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      if (ev->nfds < MAX_FDS_PER_READ) ev->fds[ev->nfds++] = fd;
      else close(fd);
    }
  }
  return !(msg->msg_flags & MSG_CTRUNC);
}

// Reads until the peer closes or the socket is shut down; returns the errno that ended it (0: EOF).
static int read_loop(struct channel *ch) {
  static const size_t ctl_bytes = CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ);
  for (;;) {
    struct event *ev = new_event(EV_DATA, RECV_BUFFER_BYTES);
    union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_READ)]; struct cmsghdr align; } ctl;
    if (!ev) return ENOMEM;
    struct iovec iov = {ev->data, RECV_BUFFER_BYTES};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = ctl_bytes};
    ssize_t n = recvmsg(ch->fd, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      free(ev);
      if (err == EINTR) continue;
      return err;
    }
    ev->len = (size_t)n;
    // A lost fd would pair every later frame with the wrong session: end instead.
    int complete = take_fds(&msg, ev);
    if (!complete) {
      close_event_fds(ev);
      free(ev);
      return EPROTO;
    }
    if (!deliver(ch, ev)) return ECANCELED;
  }
}

static void *reader_main(void *arg) {
  struct channel *ch = arg;
  int err = 0;
  if (connect(ch->fd, (struct sockaddr *)&ch->addr, sizeof ch->addr) != 0) {
    err = errno;
  } else {
    struct ucred cred = {0};
    socklen_t len = sizeof cred;
    struct event *ev = new_event(EV_CONNECTED, 0);
    if (getsockopt(ch->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) cred.uid = (uid_t)-1;
    if (ev) {
      ev->peer_pid = cred.pid;
      ev->peer_uid = cred.uid;
      err = deliver(ch, ev) ? read_loop(ch) : ECANCELED;
    } else {
      err = ENOMEM;
    }
  }
  if (err != ECANCELED) deliver_end(ch, err);
  napi_release_threadsafe_function(ch->tsfn, napi_tsfn_release);
  return NULL;
}

static napi_value event_args(napi_env env, struct event *ev, napi_value args[3]) {
  napi_create_int32(env, ev->kind, &args[0]);
  napi_get_undefined(env, &args[1]);
  napi_get_undefined(env, &args[2]);
  if (ev->kind == EV_CONNECTED) {
    napi_value pid, uid;
    napi_create_object(env, &args[1]);
    napi_create_int32(env, ev->peer_pid, &pid);
    napi_create_uint32(env, ev->peer_uid, &uid);
    napi_set_named_property(env, args[1], "pid", pid);
    napi_set_named_property(env, args[1], "uid", uid);
  } else if (ev->kind == EV_DATA) {
    void *copy;
    napi_create_buffer_copy(env, ev->len, ev->data, &copy, &args[1]);
    napi_create_array_with_length(env, (size_t)ev->nfds, &args[2]);
    for (int i = 0; i < ev->nfds; i++) {
      napi_value fd;
      napi_create_int32(env, ev->fds[i], &fd);
      napi_set_element(env, args[2], (uint32_t)i, fd);
    }
  } else {
    napi_create_int32(env, ev->err, &args[1]);
    const char *msg = ev->err ? strerror(ev->err) : "closed by the peer";
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &args[2]);
  }
  return args[0];
}

// On the JS thread: hands one event to onEvent. At the end, joins the (finished)
// reader thread and closes the socket.
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  struct channel *ch = context;
  struct event *ev = data;
  if (!env) { // the environment is going away: nobody will own these fds
    close_event_fds(ev);
    free(ev);
    return;
  }
  if (ev->kind == EV_END) {
    pthread_join(ch->thread, NULL);
    close(ch->fd);
    ch->fd = -1;
  }
  napi_value args[3], global;
  event_args(env, ev, args);
  int end = ev->kind == EV_END;
  free(ev);
  napi_get_global(env, &global);
  napi_call_function(env, global, cb, 3, args, NULL);
  if (end) channel_unref(ch);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  channel_unref(data);
}

static struct channel *handle_arg(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) napi_throw_type_error(env, NULL, "not a holder channel handle");
  return p;
}

// channelOpen(path: string, onEvent: Function): handle
napi_value ChannelOpen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct channel *ch = calloc(1, sizeof *ch);
  size_t len = 0;
  if (!ch) { napi_throw_error(env, NULL, "channelOpen: out of memory"); return NULL; }
  ch->addr.sun_family = AF_UNIX;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], ch->addr.sun_path, sizeof ch->addr.sun_path, &len) != napi_ok ||
      len >= sizeof ch->addr.sun_path - 1) {
    free(ch);
    napi_throw_type_error(env, NULL, "channelOpen(path, onEvent): path must be a string shorter than the socket path limit");
    return NULL;
  }
  ch->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ch->fd < 0) { free(ch); return throw_errno(env, "socket"); }
  napi_value name, handle;
  napi_create_string_utf8(env, "tshpool holder channel", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, MAX_QUEUED_EVENTS, 1, NULL, NULL, ch, call_js, &ch->tsfn) != napi_ok) {
    close(ch->fd);
    free(ch);
    napi_throw_type_error(env, NULL, "channelOpen(path, onEvent): onEvent must be a function");
    return NULL;
  }
  ch->refs = 2;
  int err = pthread_create(&ch->thread, NULL, reader_main, ch);
  if (err) {
    napi_release_threadsafe_function(ch->tsfn, napi_tsfn_abort);
    close(ch->fd);
    free(ch);
    errno = err;
    return throw_errno(env, "pthread_create");
  }
  napi_create_external(env, ch, finalize_handle, NULL, &handle);
  return handle;
}

// channelSend(handle, buffer: Buffer): number
napi_value ChannelSend(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct channel *ch = argc >= 2 ? handle_arg(env, argv[0]) : NULL;
  void *data;
  size_t len;
  if (!ch) return NULL;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) { napi_throw_type_error(env, NULL, "channelSend(handle, buffer): a Buffer expected"); return NULL; }
  if (ch->fd < 0) { errno = EPIPE; return throw_errno(env, "channelSend"); }
  ssize_t n = send(ch->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) n = 0;
  if (n < 0) return throw_errno(env, "send");
  napi_value out;
  napi_create_int64(env, n, &out);
  return out;
}

// channelClose(handle): void
napi_value ChannelClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct channel *ch = argc >= 1 ? handle_arg(env, argv[0]) : NULL;
  // Wakes the reader thread (its recvmsg returns 0); the fd is closed when its end arrives.
  if (ch && ch->fd >= 0) shutdown(ch->fd, SHUT_RDWR);
  return NULL;
}

// channelRef(handle, ref: boolean): void
napi_value ChannelRef(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool ref = true;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct channel *ch = argc >= 2 ? handle_arg(env, argv[0]) : NULL;
  if (!ch || napi_get_value_bool(env, argv[1], &ref) != napi_ok) return NULL;
  if (ch->fd < 0) return NULL; // ended: the thread-safe function is released already
  if (ref) napi_ref_threadsafe_function(env, ch->tsfn);
  else napi_unref_threadsafe_function(env, ch->tsfn);
  return NULL;
}
