"""Time to render and lint the first-boot scripts of a 1,000-row inventory.

Two measurements: ``nitools render --all -o DIR`` as a user runs it (one process: reading
the inventory, checking the template, rendering, linting and writing every file), and the
per-board cost inside the station (render + lint of one board, as the preparation
workers do), from the same rows. The template is a realistic ~40-line first-boot script
with a loop, conditionals and values in and out of quotes; a tenth of the rows carry
hostile text.

    python3 benchmarks/render.py [--rows 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nitools.commands.render import Board, render_board  # noqa: E402
from nitools.station.plan.rules import board_rules  # noqa: E402

TEMPLATE = """\
# {{ mac }} {{ model }}: RouterOS {{ routeros }}
:delay 5s
/system identity set name={{ hostname }}
/system clock set time-zone-name={{ timezone }}
/system note set note="{{ note }}" show-at-login=no
/user add name={{ admin }} group=full password="{{ password }}"
/user remove [find name=admin]
/interface bridge add name=bridge1 comment="{{ site }}"
{% for port in range(2, 9) %}/interface bridge port add bridge=bridge1 interface=ether{{ port }}
{% endfor %}
/ip address add address={{ address }} interface=ether1 comment="uplink of {{ site }}"
/ip route add gateway={{ gateway }}
/ip dns set servers={{ dns }}
{% if vlan %}/interface vlan add name=vlan{{ vlan }} vlan-id={{ vlan }} interface=bridge1
/ip address add address={{ vlan_address }} interface=vlan{{ vlan }}
{% endif %}
/ip service disable telnet,ftp,www,api
/ip service set ssh port={{ ssh_port }}
/snmp set enabled=yes contact="{{ contact }}" location="{{ site }}"
/snmp community set [find default=yes] name="{{ community }}"
/system ntp client set enabled=yes
/system ntp client servers add address={{ ntp }}
/tool romon set enabled=yes
/ip firewall filter add chain=input connection-state=established,related action=accept
/ip firewall filter add chain=input protocol=icmp action=accept
/ip firewall filter add chain=input src-address={{ management }} action=accept
/ip firewall filter add chain=input action=drop comment="{{ site }}: default drop"
/system logging action set remote remote={{ syslog }}
/system logging add topics=info action=remote
:log info "first boot of {{ hostname }} done"
"""
HOSTILE = 'x"; /user add name=evil group=full; :put "'


def write_inventory(folder: Path, rows: int) -> Path:
    lines = ["mac,hostname,timezone,note,admin,password,site,address,gateway,dns,vlan,"
             "vlan_address,ssh_port,contact,community,ntp,management,syslog"]
    for index in range(rows):
        mac = f"02:4e:49:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}"
        hostile = index % 10 == 0
        name = HOSTILE.replace('"', '""') if hostile else f"r{index}"
        lines.append(
            f'{mac},"{name}",Europe/Berlin,"row {index}: $x?",ops,"pw{index}\\$",site-{index % 50},'
            f"10.{index >> 8 & 255}.{index & 255}.1/24,10.0.0.254,10.0.0.53,"
            f"{100 + index % 50 if index % 3 else ''},192.168.{index % 250}.1/24,22,"
            f"noc@example.net,c{index},pool.ntp.org,10.99.0.0/16,10.0.0.10")
    path = folder / "boards.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        inventory = write_inventory(folder, args.rows)
        template = folder / "first-boot.rsc.j2"
        template.write_text(TEMPLATE)
        whole = []
        for run in range(args.runs):
            out = folder / f"out{run}"
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "nitools", "render", "--inventory", str(inventory),
                 "--config-template", str(template), "--all", "-o", str(out), "--routeros",
                 "7.16.1", "--fact", "model=RB5009UG+S+"], capture_output=True, text=True,
                cwd=REPO, check=False)
            whole.append(time.perf_counter() - started)
            if result.returncode != 0:
                sys.exit(f"render failed: {result.stderr.strip()}")
            written = len(list(out.iterdir()))
        rules = board_rules(str(inventory), str(template), None, None, "bench")
        boards = [Board(mac, "", "RB5009UG+S+") for _, mac, _, _ in
                  rules.inventory.keyed_rows()]
        per_board = []
        for _ in range(args.runs):
            started = time.perf_counter()
            for board in boards:
                render_board(rules, board, "7.16.1", {})  # script and warnings
            per_board.append((time.perf_counter() - started) / len(boards))
        size = sum(p.stat().st_size for p in (folder / "out0").iterdir()) / written
    print(f"rows: {args.rows}, scripts written: {written}, mean script {size:.0f} bytes")
    print(f"nitools render --all (whole process, {args.runs} runs): "
          f"median {statistics.median(whole):.2f} s, best {min(whole):.2f} s")
    print(f"render + lint per board in the station: median "
          f"{statistics.median(per_board) * 1000:.2f} ms "
          f"({statistics.median(per_board) * args.rows:.2f} s for {args.rows})")


if __name__ == "__main__":
    main()
