"""The netinstall protocol: codec and state machines (pure), links and the station loop."""
