"""MNDP announcements: every field, the little-endian uptime, and garbage of every kind
(property-based: nothing but MndpError ever comes out of the parser)."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitools.netinstall.mndp import (
    DISCOVERY_REQUEST,
    MndpError,
    Neighbour,
    build,
    is_request,
    parse,
)

MAC = bytes.fromhex("024e49000001")


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack(">HH", kind, len(value)) + value


def test_every_field_of_a_routeros_announcement():
    data = (b"\x00\x00\x00\x07" + tlv(1, MAC) + tlv(5, b"core-1") + tlv(7, b"7.16.1 (stable)")
            + tlv(8, b"MikroTik") + tlv(10, struct.pack("<I", 3725)) + tlv(11, b"ABCD-EFGH")
            + tlv(12, b"RB5009UG+S+") + tlv(14, b"\x00") + tlv(15, bytes(range(16)))
            + tlv(16, b"ether1") + tlv(17, bytes([10, 0, 0, 1])) + tlv(99, b"future"))
    neighbour = parse(data)
    assert neighbour == Neighbour(
        mac=MAC, identity="core-1", version="7.16.1 (stable)", platform="MikroTik",
        uptime=3725, software_id="ABCD-EFGH", board="RB5009UG+S+", interface="ether1",
        ipv4="10.0.0.1", ipv6="0001:0203:0405:0607:0809:0a0b:0c0d:0e0f")
    assert neighbour.version_number == "7.16.1"


def test_uptime_is_little_endian_unlike_everything_else():
    assert parse(b"\0\0\0\0" + tlv(1, MAC) + tlv(10, b"\x01\x00\x00\x00")).uptime == 1
    assert parse(b"\0\0\0\0" + tlv(1, MAC) + tlv(10, b"\x00\x00\x00\x01")).uptime == 1 << 24


@pytest.mark.parametrize(("data", "message"), [
    (DISCOVERY_REQUEST, "no fields"),
    (b"\0\0", "no fields"),
    (b"\0\0\0\0" + tlv(1, MAC)[:6], "cut short|claims"),
    (b"\0\0\0\0" + struct.pack(">HH", 5, 200) + b"short", "claims 200 bytes"),
    (b"\0\0\0\0" + tlv(1, MAC) + b"\x00", "cut short"),
    (b"\0\0\0\0" + tlv(1, b"\x01\x02"), "a MAC of 2 bytes"),
    (b"\0\0\0\0" + tlv(1, MAC) + tlv(10, b"\x01\x02"), "an uptime of 2 bytes"),
    (b"\0\0\0\0" + tlv(5, b"no name of the board"), "nothing names the board"),
    (b"\0\0\0\0" + tlv(1, MAC) + tlv(5, b"x" * 1600), "longer than any"),
])
def test_truncated_oversized_and_nameless_announcements_are_refused(data, message):
    with pytest.raises(MndpError, match=message):
        parse(data)


def test_the_discovery_request_is_four_zero_bytes():
    assert is_request(b"\0\0\0\0") and not is_request(b"\0\0\0\0\0")


def test_text_that_is_not_utf8_is_still_read_and_long_text_is_cut():
    neighbour = parse(b"\0\0\0\0" + tlv(1, MAC) + tlv(5, b"Caf\xe9") + tlv(12, b"B" * 400))
    assert neighbour.identity == "Café" and len(neighbour.board) == 255


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Cf")),
                    max_size=40)
versions = st.sampled_from(["", "7.16.1 (stable)", "7.23rc1 (testing)", "6.49.10", "7.20beta2"])


@given(mac=st.binary(min_size=6, max_size=6), identity=printable, version=versions,
       software_id=printable, board=printable, uptime=st.none() | st.integers(0, 2**32 - 1),
       sequence=st.integers(0, 2**16 - 1))
def test_what_build_writes_parse_reads_back(mac, identity, version, software_id, board,
                                            uptime, sequence):
    neighbour = Neighbour(mac=mac, identity=identity, version=version,
                          software_id=software_id, board=board, uptime=uptime)
    assert parse(build(neighbour, sequence)) == neighbour


@given(st.binary(max_size=2000))
def test_garbage_gives_an_announcement_or_mndp_error_never_anything_else(data):
    try:
        neighbour = parse(data)
    except MndpError:
        return
    assert neighbour.mac is not None or neighbour.software_id


@given(st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=40)), max_size=12))
def test_any_sequence_of_fields_with_a_mac_parses_or_is_refused_cleanly(fields):
    data = b"\0\0\0\0" + tlv(1, MAC) + b"".join(tlv(kind, value) for kind, value in fields)
    try:
        assert parse(data).mac is not None
    except MndpError as exc:
        assert "bytes" in str(exc) or "no RouterOS version" in str(exc)


def test_text_fields_are_printable_and_a_version_must_look_like_one():
    """Issue 27 row 8: a version with a newline wrote a whole fake line into the log."""
    neighbour = parse(b"\0\0\0\0" + tlv(1, MAC) + tlv(5, b"core\n2026-12-07 ERROR x\r"))
    assert neighbour.identity == "core\ufffd2026-12-07 ERROR x\ufffd"
    for version in (b"7.16.1 (stable)\n2026-12-07T08:00:00 ERROR all boards failed",
                    b"anything", b"7.16.1; rm"):
        with pytest.raises(MndpError, match="no RouterOS version"):
            parse(b"\0\0\0\0" + tlv(1, MAC) + tlv(7, version))

