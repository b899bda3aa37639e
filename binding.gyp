{
  "targets": [
    {
      "target_name": "tshpool_native",
      "sources": ["native/addon.c", "native/peercred.c", "native/tty.c", "native/pty.c", "native/holder-channel.c", "native/hangup.c"],
      "conditions": [["OS!='linux'", { "type": "none", "sources": [] }]]
    },
    {
      "target_name": "tshpool-holder",
      "type": "executable",
      "sources": ["native/holder.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", { "type": "none", "sources": [] }]]
    }
  ]
}
