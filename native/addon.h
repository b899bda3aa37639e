// tshpool's native helpers: what Node does not expose.
#pragma once
#include <node_api.h>

napi_value throw_errno(napi_env env, const char *what);
/** The first argument as a file descriptor; -1 (with a TypeError pending) when it is not one. */
int fd_arg(napi_env env, napi_callback_info info, const char *usage);
napi_value PeerCred(napi_env env, napi_callback_info info);
napi_value DisableOutputProcessing(napi_env env, napi_callback_info info);
napi_value PeerHungUp(napi_env env, napi_callback_info info);
napi_value SetWindowSize(napi_env env, napi_callback_info info);
napi_value ForegroundProcessGroup(napi_env env, napi_callback_info info);
napi_value SetNonBlocking(napi_env env, napi_callback_info info);
napi_value ChannelOpen(napi_env env, napi_callback_info info);
napi_value ChannelSend(napi_env env, napi_callback_info info);
napi_value ChannelClose(napi_env env, napi_callback_info info);
napi_value ChannelRef(napi_env env, napi_callback_info info);
