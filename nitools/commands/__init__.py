"""One module per subcommand: each wires options to the core modules and reports."""
