"""The wire: sockets and the one loop that drives a pure machine over them. Links
(``link``: one interface, loopback, or memory), several ports as one (``ports``), the
loop in real and virtual time (``runner``) and the MNDP ear (``mndp_link``). Shared by
the station and the emulator; imports nothing of either."""
