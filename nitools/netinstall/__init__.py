"""The netinstall protocol, pure: frames, messages, the sequence plan and limits,
the flasher's session for one board (server) and the board's side (device), and
the typed events. No socket, clock, thread or I/O library is imported here."""
