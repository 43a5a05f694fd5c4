"""The station: all boards' sessions (core), what each is offered (prepare, plugins,
payload), the configuration, the preflight, and the one loop with its sockets."""
