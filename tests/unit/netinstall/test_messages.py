import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nitools.netinstall import messages
from nitools.netinstall.messages import Announcement, build_dscv, parse_dscv

V7 = Announcement("ABCD-EFGH", "KmqYkey==", "RB5009UG+S+", "arm64", "7.12", "7.16.1")
V6 = Announcement("", "", "RB ", "smips", "0.0")


def test_v7_announcement_has_seven_fields_and_a_trailing_nul():
    payload = build_dscv(V7)
    assert payload == b"DSCV\nABCD-EFGH\nKmqYkey==\nRB5009UG+S+\narm64\n7.12\n7.16.1\n\0"
    assert parse_dscv(payload) == V7
    assert parse_dscv(payload).is_v7


def test_v6_announcement_has_six_fields_and_empty_ones_are_kept():
    payload = build_dscv(V6)
    assert payload == b"DSCV\n\n\nRB \nsmips\n0.0\n\0"  # as the real mips 6.48 client sends
    parsed = parse_dscv(payload)
    assert parsed == V6
    assert not parsed.is_v7


def test_announcement_with_extra_fields_is_parsed_by_position():
    payload = b"DSCV\nID\nKEY\nRB1\narm\n7.1beta5\n7.20\nsomething-new\n\0"
    parsed = parse_dscv(payload)
    assert (parsed.min_version, parsed.image_version) == ("7.1beta5", "7.20")


@pytest.mark.parametrize("payload", [b"DSCV\nID\nKEY\n\0", b"OFFR\n\n", b""])
def test_short_or_foreign_announcements_are_refused(payload):
    with pytest.raises(messages.MessageError):
        parse_dscv(payload)


def test_offer_echoes_key_and_ends_like_the_official_tool():
    assert messages.build_offer("KEY==") == b"OFFR\nKEY==\n\n\n\0"
    assert messages.build_offer("") == b"OFFR\n\n\n\n\0"
    assert messages.build_offer("KEY==", keep=True) == b"OFFR\nKEY==\nkeep\n\n\0"


def test_offer_refuses_a_key_the_board_would_ignore():
    with pytest.raises(messages.MessageError):
        messages.build_offer("a\nb")
    with pytest.raises(messages.MessageError):
        messages.build_offer("k" * 513)
    assert messages.build_offer("k" * 512).startswith(b"OFFR\n" + b"k" * 512 + b"\n")


@pytest.mark.parametrize(("payload", "expected"), [
    (b"OFFR\nKEY\n\n\n\0", messages.Offer("KEY", False)),
    (b"OFFR\nKEY\nkeep\n\n\0", messages.Offer("KEY", True)),
    (b"OFFR\n\n\0", messages.Offer("", False)),
    (b"OFFR\nKEY\nkeep", messages.Offer("KEY", False)),  # keep only counts with its newline
    (b"OFFR\nKEY", None),  # the key line needs its newline
    (b"OFFR\n" + b"k" * 513 + b"\n\n", None),  # longer than 512: ignored
    (b"XXXX\n\n\n", None),
])
def test_offer_is_read_as_the_device_reads_it(payload, expected):
    assert messages.parse_offer(payload) == expected


def test_file_header_round_trip_and_limits():
    header = messages.build_file_header("routeros-7.16.1-arm64.npk", 12345)
    assert header == b"FILE\nrouteros-7.16.1-arm64.npk\n12345\n"
    assert messages.parse_file_header(header) == messages.FileHeader(
        "routeros-7.16.1-arm64.npk", 12345)
    assert messages.build_file_header("x" * 80, 0)
    for bad in ("x" * 81, "", "a/b.npk", "a\nb"):
        with pytest.raises(messages.MessageError):
            messages.build_file_header(bad, 1)


@pytest.mark.parametrize("payload", [b"FILE\n", b"", b"FILE\nname\n", b"FILE\nname\n-1\n",
                                     b"garbage"])
def test_anything_but_a_complete_file_header_means_no_more_files(payload):
    assert messages.parse_file_header(payload) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000))
def test_any_dscv_payload_parses_or_is_rejected_with_message_error(payload):
    try:
        info = parse_dscv(b"DSCV\n" + payload)
    except messages.MessageError:
        return
    assert all(isinstance(f, str) for f in (info.software_id, info.key, info.model,
                                             info.arch, info.min_version))
