"""What people watch: the terminal UI, the board table, Prometheus metrics, the
health heartbeat and the web view."""
