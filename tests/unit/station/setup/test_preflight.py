"""The preflight's reading of firewall rules (as nft -j and iptables -S print them)."""

from __future__ import annotations

import json

import pytest

from nitools.station.setup import preflight

PORTS = [67, 69, 5000]


def nft_ruleset(policy: str, *rules: list[dict]) -> str:
    items = [{"chain": {"family": "inet", "table": "t", "name": "in", "hook": "input",
                        "policy": policy}}]
    items += [{"rule": {"family": "inet", "table": "t", "chain": "in", "expr": expr}}
              for expr in rules]
    return json.dumps({"nftables": items})


def dport(value, op: str = "==") -> dict:
    return {"match": {"op": op, "left": {"payload": {"protocol": "udp", "field": "dport"}},
                      "right": value}}


def iifname(name: str) -> dict:
    return {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": name}}


ESTABLISHED = {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                         "right": ["established", "related"]}}


@pytest.fixture
def answers(monkeypatch):
    given: dict[str, str | None] = {"nft": None, "iptables": None}
    monkeypatch.setattr(preflight, "_run", lambda command: given[command[0]])
    return given


@pytest.mark.parametrize(("ruleset", "problem"), [
    (nft_ruleset("accept"), None),
    (nft_ruleset("accept", [iifname("eth9"), {"drop": None}]), None),
    (nft_ruleset("accept", [iifname("eth*"), {"drop": None}]), "drops UDP port 67"),
    (nft_ruleset("accept", [dport({"range": [4000, 6000]}), {"reject": None}]),
     "drops UDP port 5000"),
    (nft_ruleset("drop", [ESTABLISHED, {"accept": None}]), "policy drop) and accepts no UDP "
                                                           "port 67"),
    (nft_ruleset("drop", [dport({"set": [67, 69, 5000]}), {"accept": None}]), None),
    (nft_ruleset("drop", [dport({"set": [67, 69]}), {"accept": None}]), "port 5000"),
    (nft_ruleset("drop", [iifname("eth1"), {"accept": None}]), None),
])
def test_nftables_rules(answers, ruleset, problem):
    answers["nft"] = ruleset
    problems = preflight.check_firewall(["eth1"], PORTS)
    if problem is None:
        assert problems == []
    else:
        assert problem in problems[0]


@pytest.mark.parametrize(("rules", "problem"), [
    ("-P INPUT ACCEPT\n", None),
    ("-P INPUT DROP\n-A INPUT -p udp -m multiport --dports 67,69,5000 -j ACCEPT\n", None),
    ("-P INPUT DROP\n-A INPUT -i eth1 -j ACCEPT\n", None),
    ("-P INPUT DROP\n-A INPUT -i eth2 -j ACCEPT\n", "policy DROP) and accepts no UDP port 67"),
    ("-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 4000:6000 -j DROP\n",
     "drops UDP port 5000"),
    ("-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 67 -j DROP\n", None),
])
def test_iptables_rules(answers, rules, problem):
    answers["iptables"] = rules
    problems = preflight.check_firewall(["eth1"], PORTS)
    if problem is None:
        assert problems == []
    else:
        assert problem in problems[0]


def status(*caps: int) -> str:
    return f"Name:\tpython3\nCapEff:\t{sum(1 << cap for cap in caps):016x}\n"


def test_without_root_or_capabilities_the_station_says_which_it_needs():
    old = (5, 4)  # before Linux 5.7, tying a socket to an interface needed CAP_NET_RAW
    none = preflight.check_privileges(serve_dhcp=True, status=status(), kernel=old)
    assert len(none) == 1 and "nitools station needs root" in none[0]
    assert "missing: CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN" in none[0]
    raw_only = preflight.check_privileges(serve_dhcp=True, status=status(13), kernel=old)
    assert "missing: CAP_NET_BIND_SERVICE, CAP_NET_ADMIN" in raw_only[0]
    assert preflight.check_privileges(serve_dhcp=True, status=status(10, 12, 13),
                                      kernel=old) == []
    assert preflight.check_privileges(serve_dhcp=False, status=status(13), kernel=old) == []
    flash = preflight.check_privileges(serve_dhcp=False, status=status(), kernel=old)
    assert "nitools flash on an interface needs root" in flash[0]


def test_since_linux_5_7_flash_asks_for_no_capability():
    """Issue 29 row 16: flash demanded CAP_NET_RAW, which binding to an interface has not
    needed since Linux 5.7 (emulate -i ran as nobody)."""
    assert preflight.check_privileges(serve_dhcp=False, status=status(), kernel=(5, 7)) == []
    station = preflight.check_privileges(serve_dhcp=True, status=status(), kernel=(6, 1))
    assert "missing: CAP_NET_BIND_SERVICE, CAP_NET_ADMIN)" in station[0]  # dnsmasq's


def test_problems_become_one_error_and_the_rest_are_logged(caplog):
    preflight.raise_problems([])  # nothing to say: nothing raised
    with pytest.raises(preflight.PreflightError, match=r"^first \(and 2 more above\)$"):
        preflight.raise_problems(["first", "second", "third"])
    assert "preflight: second" in caplog.text and "preflight: third" in caplog.text
