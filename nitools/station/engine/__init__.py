"""The station's pure engine: frames, plans, neighbours, dnsmasq sightings and the time
in; frames, events and preparation requests out. No sockets, threads, clock, logging,
downloads or templates (an import-linter contract forbids them), so the same code runs
on the wire, in the emulator and in virtual time in the unit tests."""
