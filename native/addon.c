#include "addon.h"

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    {"peerCred", NULL, PeerCred, NULL, NULL, NULL, napi_default, NULL},
    {"disableOutputProcessing", NULL, DisableOutputProcessing, NULL, NULL, NULL, napi_default, NULL},
    {"peerHungUp", NULL, PeerHungUp, NULL, NULL, NULL, napi_default, NULL},
    {"setWindowSize", NULL, SetWindowSize, NULL, NULL, NULL, napi_default, NULL},
    {"foregroundProcessGroup", NULL, ForegroundProcessGroup, NULL, NULL, NULL, napi_default, NULL},
    {"setNonBlocking", NULL, SetNonBlocking, NULL, NULL, NULL, napi_default, NULL},
    {"channelOpen", NULL, ChannelOpen, NULL, NULL, NULL, napi_default, NULL},
    {"channelSend", NULL, ChannelSend, NULL, NULL, NULL, napi_default, NULL},
    {"channelClose", NULL, ChannelClose, NULL, NULL, NULL, napi_default, NULL},
    {"channelRef", NULL, ChannelRef, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
