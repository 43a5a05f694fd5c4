"""Who holds a UDP port (issue 29 row 17: 'another DHCP server listens on UDP 67' did not
say which process)."""

import os
import socket

from nitools.netboot.udp_ports import held_by, holders, ports_in_use


def test_the_process_holding_a_port_is_named():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        assert port in ports_in_use()
        (who,) = holders(port)
        assert who.endswith(f"(pid {os.getpid()})")
        assert held_by(port) == f" ({who})"
    finally:
        sock.close()
    assert port not in ports_in_use() and held_by(port) == ""
