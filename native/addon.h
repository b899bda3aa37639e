// tshpool's native helpers: what Node does not expose.
#pragma once
#include <node_api.h>

napi_value throw_errno(napi_env env, const char *what);
napi_value PeerCred(napi_env env, napi_callback_info info);
napi_value DisableOutputProcessing(napi_env env, napi_callback_info info);
