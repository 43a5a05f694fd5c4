"""Before a station serves anything: is each interface there, up and addressed, are the
DHCP and TFTP ports free, and does a host firewall drop what the boards send?
Every problem is one line that says what to fix.

Not checked, on purpose: ``rp_filter``. Boards send from 0.0.0.0 to
255.255.255.255, and Linux skips source validation for zero-source limited
broadcasts: measured with ``rp_filter=1`` on ``all`` and the flashing interface, a
board is found and flashed as usual (docs/station.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nitools.errors import NitoolsError
from nitools.netboot.dnsmasq import DnsmasqError, interface_address
from nitools.netboot.udp_ports import held_by, ports_in_use
from nitools.wire.link import NETINSTALL_PORT

log = logging.getLogger("nitools.preflight")

DHCP_PORT, TFTP_PORT = 67, 69
IFF_UP = 0x1
_WHAT = {DHCP_PORT: "DHCP", TFTP_PORT: "TFTP", NETINSTALL_PORT: "netinstall"}


def check_interfaces(names: Iterable[str], need_address: bool) -> list[str]:
    problems = []
    for name in names:
        folder = Path("/sys/class/net") / name
        if not folder.is_dir():
            problems.append(f"interface {name} does not exist: check the name with 'ip link'")
            continue
        flags = int((folder / "flags").read_text(), 16)
        if not flags & IFF_UP:
            problems.append(f"interface {name} is down: bring it up with "
                            f"'ip link set {name} up'")
            continue
        if need_address:
            try:
                interface_address(name)
            except DnsmasqError as exc:
                problems.append(str(exc))
        with contextlib.suppress(OSError, ValueError):
            if int((folder / "carrier").read_text()) == 0:
                log.warning("interface %s has no link yet (no cable, or the switch port is "
                            "down): boards on it cannot be reached until it has", name)
    return problems


def check_ports(ports: Iterable[int]) -> list[str]:
    taken = ports_in_use()
    problems = []
    for port in ports:
        if port in taken:
            problems.append(f"another {_WHAT.get(port, '')} server already listens on UDP "
                            f"port {port} here{held_by(port)}: stop it first (nitools will "
                            "not fight over the port)")
    return problems


# ------------------------------------------------------------------ firewall


def check_firewall(interfaces: Iterable[str], ports: Iterable[int]) -> list[str]:
    """Rules visible to root that drop the boards' UDP: nftables, then iptables."""
    interfaces, ports = list(interfaces), sorted(ports)
    problems = _nft_problems(interfaces, ports)
    if not problems:  # iptables-nft rules are in the nft ruleset already
        problems = _iptables_problems(interfaces, ports)
    return problems


def _run(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        log.debug("%s: %s", " ".join(command), result.stderr.strip())
        return None  # not root, or no such table: nothing we can see
    return result.stdout


def _nft_problems(interfaces: list[str], ports: list[int]) -> list[str]:
    text = _run(["nft", "-j", "list", "ruleset"])
    if not text:
        return []
    try:
        items = json.loads(text).get("nftables", [])
    except (ValueError, AttributeError):
        return []
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[list[dict[str, Any]]]] = {}
    for item in items:
        if "chain" in item:
            chain = item["chain"]
            chains[(chain["family"], chain["table"], chain["name"])] = chain
        elif "rule" in item:
            rule = item["rule"]
            rules.setdefault((rule["family"], rule["table"], rule["chain"]), []).append(
                rule.get("expr", []))
    problems = []
    for key, chain in chains.items():
        if chain.get("hook") not in ("input", "prerouting") or key[0] not in (
                "ip", "inet", "netdev"):
            continue
        where = f"nftables {key[0]} {key[1]} chain {key[2]}"
        for port in ports:
            verdict = _nft_verdict(rules.get(key, []), interfaces, port)
            if verdict in ("drop", "reject") or (verdict is None
                                                 and chain.get("policy") == "drop"):
                how = "drops" if verdict else "drops by default (policy drop) and accepts no"
                problems.append(f"{where} {how} UDP port {port} ({_WHAT[port]}): allow UDP "
                                f"{', '.join(map(str, ports))} in on "
                                f"{', '.join(interfaces)}")
                break
    return problems


def _nft_verdict(rules: list[list[dict[str, Any]]], interfaces: list[str], port: int
                 ) -> str | None:
    """The verdict of the first rule that matches a board's UDP to ``port``."""
    for expressions in rules:
        verdict = next((name for e in expressions for name in ("accept", "drop", "reject")
                        if name in e), None)
        if verdict is None:
            continue
        if all(_nft_matches(e["match"], interfaces, port) for e in expressions
               if "match" in e):
            return verdict
    return None


def _nft_matches(match: dict[str, Any], interfaces: list[str], port: int) -> bool:
    """Whether one match expression can hold for a board's frame (unknown: it can)."""
    left, right, op = match.get("left", {}), match.get("right"), match.get("op", "==")
    meta, payload = left.get("meta", {}), left.get("payload", {})
    if meta.get("key") in ("iifname", "iif") and isinstance(right, str):
        hit = any(_glob(right, name) for name in interfaces)
        return hit if op in ("==", "in") else not hit
    if meta.get("key") == "l4proto" or payload.get("field") == "protocol":
        hit = right in ("udp", 17) or (isinstance(right, dict) and "udp" in
                                       json.dumps(right))
        return hit if op in ("==", "in") else not hit
    if payload.get("field") == "dport":
        if payload.get("protocol") not in ("udp", "th", None):
            return False
        hit = _covers(right, port)
        return hit if op in ("==", "in") else not hit
    if "ct" in left:  # a board's broadcasts are never "established" or "related"
        hit = "new" in json.dumps(right) or "untracked" in json.dumps(right)
        return hit if op in ("==", "in") else not hit
    return True  # anything else (addresses, marks): assume it can match


def _covers(right: Any, port: int) -> bool:
    if isinstance(right, int):
        return right == port
    if isinstance(right, dict):
        if "set" in right:
            return any(_covers(member, port) for member in right["set"])
        if "range" in right:
            low, high = right["range"]
            return low <= port <= high
    if isinstance(right, list):
        return any(_covers(member, port) for member in right)
    return False


def _glob(pattern: str, name: str) -> bool:
    return pattern == name or (pattern.endswith("*") and name.startswith(pattern[:-1]))


_IPTABLES_RULE = re.compile(r"^-A INPUT (?P<body>.*?) -j (?P<target>\w+)")


def _iptables_problems(interfaces: list[str], ports: list[int]) -> list[str]:
    text = _run(["iptables", "-S", "INPUT"])
    if not text:
        return []
    policy = "ACCEPT"
    verdicts: dict[int, str | None] = dict.fromkeys(ports)
    for line in text.splitlines():
        if line.startswith("-P INPUT "):
            policy = line.split()[2]
            continue
        match = _IPTABLES_RULE.match(line)
        if not match or match["target"] not in ("ACCEPT", "DROP", "REJECT"):
            continue
        body = match["body"].split()
        if "-i" in body and not any(_glob(body[body.index("-i") + 1].replace("+", "*"), name)
                                    for name in interfaces):
            continue
        if "-p" in body and body[body.index("-p") + 1] not in ("udp", "17", "all"):
            continue
        if "--dport" in body:
            wanted = body[body.index("--dport") + 1]
            low, _, high = wanted.partition(":")
            covered = [p for p in ports if int(low) <= p <= int(high or low)]
        elif "--dports" in body:
            listed = body[body.index("--dports") + 1].split(",")
            covered = [p for p in ports if str(p) in listed]
        else:
            covered = list(ports)
        for port in covered:
            if verdicts[port] is None:
                verdicts[port] = match["target"]
    for port in ports:
        verdict = verdicts[port] or policy
        if verdict in ("DROP", "REJECT"):
            how = "drops" if verdicts[port] else "drops by default (policy DROP) and accepts no"
            return [f"iptables INPUT {how} UDP port {port} ({_WHAT[port]}): allow UDP "
                    f"{', '.join(map(str, ports))} in on {', '.join(interfaces)}"]
    return []


# Linux capability numbers (linux/capability.h) a station needs without being root.
CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW = 10, 12, 13
_CAP_NAMES = {CAP_NET_ADMIN: "CAP_NET_ADMIN", CAP_NET_BIND_SERVICE: "CAP_NET_BIND_SERVICE",
              CAP_NET_RAW: "CAP_NET_RAW"}


def check_privileges(serve_dhcp: bool, status: str | None = None,
                     kernel: tuple[int, int] | None = None) -> list[str]:
    """Binding a socket to one interface needs CAP_NET_RAW before Linux 5.7 only (since,
    an unbound socket may be tied to an interface by anyone); dnsmasq's DHCP and TFTP
    ports and its raw DHCP replies need CAP_NET_BIND_SERVICE and CAP_NET_ADMIN."""
    if status is None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return []  # not Linux's /proc: the sockets will say it themselves
    match = re.search(r"^CapEff:\s*([0-9a-fA-F]+)$", status, re.MULTILINE)
    if match is None:
        return []
    effective = int(match[1], 16)
    kernel = kernel or _kernel()
    needed = ([CAP_NET_RAW] if kernel < (5, 7) else []) + (
        [CAP_NET_BIND_SERVICE, CAP_NET_ADMIN] if serve_dhcp else [])
    missing = [_CAP_NAMES[cap] for cap in needed if not effective >> cap & 1]
    if not missing:
        return []
    what = "nitools station" if serve_dhcp else "nitools flash on an interface"
    return [f"{what} needs root, or the capabilities {', '.join(_CAP_NAMES[c] for c in needed)}"
            f" (missing: {', '.join(missing)}): run it with sudo, or give the capabilities"]


def _kernel() -> tuple[int, int]:
    release = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(release[1]), int(release[2])) if release else (0, 0)


def preflight(interfaces: Iterable[str], serve_dhcp: bool) -> list[str]:
    """Every problem found, each one line saying what to fix. Without the privileges
    nothing else is checked (every other check would fail for that reason)."""
    problems = check_privileges(serve_dhcp)
    if problems:
        return problems
    interfaces = list(interfaces)
    if serve_dhcp:
        problems += check_ports([DHCP_PORT, TFTP_PORT, NETINSTALL_PORT])
    ports = [DHCP_PORT, TFTP_PORT, NETINSTALL_PORT] if serve_dhcp else [NETINSTALL_PORT]
    problems = check_interfaces(interfaces, need_address=serve_dhcp) + problems
    problems += check_firewall(interfaces, ports)
    return problems


class PreflightError(NitoolsError):
    """A station or flash that cannot serve boards as set up: each problem says the fix."""


def raise_problems(problems: list[str]) -> None:
    """The first problem as the error; the others logged above it."""
    if not problems:
        return
    for problem in problems[1:]:
        log.error("preflight: %s", problem)
    more = f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""
    raise PreflightError(f"{problems[0]}{more}")
