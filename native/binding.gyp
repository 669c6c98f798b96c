{
  "targets": [
    {
      "target_name": "replay_native",
      "sources": ["replay_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "index_native",
      "sources": ["index_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
