import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitools.netinstall.frame import (
    HEADER_SIZE,
    FrameError,
    decode,
    encode,
    format_mac,
    parse_mac,
)

macs = st.binary(min_size=6, max_size=6)
counters = st.integers(0, 0xFFFF)


@given(macs, macs, counters, counters, st.binary(max_size=1452))
def test_encode_decode_round_trip(src, dst, seq, ack, payload):
    frame = decode(encode(src, dst, seq, ack, payload))
    assert (frame.src, frame.dst, frame.seq, frame.ack, frame.payload) == (
        src, dst, seq, ack, payload)


def test_header_layout_is_little_endian_with_zero_field():
    data = encode(b"\x01" * 6, b"\x02" * 6, 0x0102, 0x0304, b"xyz")
    assert data[:12] == b"\x01" * 6 + b"\x02" * 6
    assert data[12:14] == b"\0\0"
    assert data[14:16] == b"\x03\x00"  # payload length
    assert data[16:18] == b"\x02\x01"  # seq
    assert data[18:20] == b"\x04\x03"  # ack
    assert data[20:] == b"xyz"


def test_decode_rejects_short_datagram():
    with pytest.raises(FrameError):
        decode(b"\0" * (HEADER_SIZE - 1))


@given(st.binary(max_size=64), st.integers(1, 30))
def test_decode_rejects_length_field_that_does_not_match(payload, delta):
    data = bytearray(encode(bytes(6), bytes(6), 1, 0, payload))
    data[14:16] = ((len(payload) + delta) & 0xFFFF).to_bytes(2, "little")
    with pytest.raises(FrameError):
        decode(bytes(data))


@given(st.binary(max_size=200))
def test_decode_never_raises_anything_but_frame_error(data):
    try:
        frame = decode(data)
    except FrameError:
        return
    assert len(frame.payload) == len(data) - HEADER_SIZE


@pytest.mark.parametrize("args", [
    (b"\0" * 5, b"\0" * 6, 1, 0, b""),
    (b"\0" * 6, b"\0" * 6, 0x10000, 0, b""),
    (b"\0" * 6, b"\0" * 6, 1, -1, b""),
    (b"\0" * 6, b"\0" * 6, 1, 0, b"x" * 4077),
])
def test_encode_refuses_what_the_device_cannot_take(args):
    with pytest.raises(ValueError):
        encode(*args)


def test_mac_text_round_trip_and_forms():
    mac = bytes.fromhex("0a1b2c3d4e5f")
    assert format_mac(mac) == "0a:1b:2c:3d:4e:5f"
    for text in ("0a:1b:2c:3d:4e:5f", "0A-1B-2C-3D-4E-5F", "0a1b2c3d4e5f"):
        assert parse_mac(text) == mac
    with pytest.raises(ValueError):
        parse_mac("0a:1b:2c")


def test_mac_options_take_one_or_several_and_name_the_option_when_wrong():
    import pytest

    from nitools.errors import UsageError
    from nitools.netinstall.frame import parse_mac_option

    assert parse_mac_option("02-4E-49-00-00-01") == {bytes.fromhex("024e49000001")}
    assert parse_mac_option(("024e49000001", "02:4e:49:00:00:02")) == {
        bytes.fromhex("024e49000001"), bytes.fromhex("024e49000002")}
    with pytest.raises(UsageError, match="--software-mac: 'x' is not a MAC address"):
        parse_mac_option(("x",), "--software-mac")
