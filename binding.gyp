{
  "targets": [
    {
      "target_name": "tshpool_native",
      "sources": ["native/addon.c", "native/peercred.c", "native/tty.c", "native/hangup.c"],
      "conditions": [["OS!='linux'", { "type": "none", "sources": [] }]]
    }
  ]
}
