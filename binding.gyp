{
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["native/peercred.c"],
      "conditions": [["OS!='linux'", { "type": "none", "sources": [] }]]
    }
  ]
}
