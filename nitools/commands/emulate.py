"""``nitools emulate``: emulated boards on an interface or the loopback link."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from nitools.emulation.emulator import BoardSpec, Emulator, Faults, make_boards
from nitools.emulation.mndp_speaker import MndpSpeaker
from nitools.errors import LinkError, UsageError
from nitools.netinstall.mndp import MNDP_PORT
from nitools.wire.link import BroadcastLink, LoopbackLink, local_admin_mac, parse_loopback


def run_emulate(interface: str | None, loopback: str | None, out_dir: Path | None,
                timeout: float, **options: Any) -> int:
    """The ``emulate`` subcommand. Returns 0 when every board was installed."""
    if bool(interface) == bool(loopback):
        raise UsageError("give either -i INTERFACE or --loopback LOCAL:PEER")
    key = "" if options["no_key"] else options["key"]
    spec = BoardSpec(
        model=options["model"], arch=options["arch"], min_version=options["min_version"],
        image_version=None if options["v6"] else options["image_version"],
        software_id=options["software_id"], key=key, ports=options["ports"],
        format_time=options["format_time"], key_required=options["key_required"],
        image_too_old=options["image_too_old"], accepted_keys=tuple(options["accept_keys"]))
    extra: list[BroadcastLink] = []
    if loopback:
        local, peer = parse_loopback(loopback)
        link: Any = LoopbackLink(local, peer, local_admin_mac(0xE0))
        source_port = peer
    else:
        assert interface is not None
        link = BroadcastLink(interface)
        source_port = 5000
        if spec.image_version is not None:
            extra.append(BroadcastLink(interface, udp_port=59813))  # v7 boards copy every frame
    boards = make_boards(spec, options["boards"], options["seed"], time.monotonic(), source_port)
    if isinstance(link, BroadcastLink):
        link.keep_only_frames_for([mac for board in boards for mac in board.macs])
    faults = Faults(options["drop"], options["duplicate"], options["seed"],
                    options["link_delay"] / 1000, options["chunk_delay"] / 1000,
                    options["die_after"], options["reboot_after"],
                    reset_fraction=options["reset_fraction"], term_loss=options["term_loss"])
    speaker = _speaker(options, boards, interface, loopback)
    emulator = Emulator(link, boards, faults, extra, speaker=speaker)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: emulator.stop())
    try:
        emulator.run(timeout)
    finally:
        link.close()
        for other in extra:
            other.close()
        if speaker is not None:
            speaker.link.close()
    if out_dir is not None:
        emulator.write_files(out_dir)
    print(emulator.summary_json(), flush=True)
    return 0 if emulator.summary()["all_installed"] else 1


def _speaker(options: dict[str, Any], boards: list[Any], interface: str | None,
             loopback: str | None) -> MndpSpeaker | None:
    """``--mndp-after``: the boards announce themselves after their reboot (MNDP, UDP
    5678 on the interface; on loopback, each netinstall port + 1)."""
    if options.get("mndp_after") is None:
        return None
    try:
        if loopback:
            local, peer = parse_loopback(loopback)
            link: Any = LoopbackLink(local + 1, peer + 1, local_admin_mac(0xE1))
        else:
            link = BroadcastLink(interface or "", udp_port=MNDP_PORT)
    except LinkError as exc:
        raise UsageError(f"--mndp-after: {exc}") from None
    return MndpSpeaker(link, boards, options["mndp_after"], options.get("mndp_version"),
                       options.get("mndp_identity"))
