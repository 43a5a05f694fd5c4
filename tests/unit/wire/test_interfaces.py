"""The flashing port when -i names none (issue 29 row 15): -i silently meant eth0, which on
a PC is the uplink. The one Ethernet interface up and not the default route's, or none."""

from nitools.wire.interfaces import default_route_interfaces, flashing_candidates

ROUTES = ("Iface\tDestination\tGateway\tFlags\n"
          "eth0\t00000000\t0102A8C0\t0003\n"
          "eth0\t0002A8C0\t00000000\t0001\n"
          "eth1\t000010AC\t00000000\t0001\n")


def interface(root, name, kind=1, state="up", master=False):
    folder = root / name
    folder.mkdir()
    (folder / "type").write_text(f"{kind}\n")
    (folder / "operstate").write_text(f"{state}\n")
    if master:
        (folder / "master").write_text("")


def test_the_one_ethernet_port_up_that_is_not_the_uplink(tmp_path):
    routes = tmp_path / "route"
    routes.write_text(ROUTES)
    net = tmp_path / "net"
    net.mkdir()
    interface(net, "lo", kind=772, state="unknown")
    interface(net, "eth0")  # the default route's: the uplink
    interface(net, "eth1")  # the flashing port
    interface(net, "eth2", state="down")  # no cable
    interface(net, "eth3", master=True)  # a bridge's member
    interface(net, "wg0", kind=65534)  # not Ethernet
    assert default_route_interfaces(str(routes)) == {"eth0"}
    assert flashing_candidates(str(net), str(routes)) == ["eth1"]
    interface(net, "eth4")
    assert flashing_candidates(str(net), str(routes)) == ["eth1", "eth4"]  # then: ask
