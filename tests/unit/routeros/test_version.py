"""RouterOS version parsing and ordering, with property tests."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nitools.errors import UsageError
from nitools.routeros.npk import decode_version, encode_version
from nitools.routeros.version import RELEASE_RANKS, RouterOSVersion, parse_version

releases = st.sampled_from(["alpha", "beta", "rc", "final", "test", "dev"])
versions = st.builds(RouterOSVersion.from_parts, st.integers(0, 99), st.integers(0, 99), releases,
                     st.integers(0, 99))


def test_known_order():
    ordered = ["0.0", "6.45.9", "7.1alpha2", "7.1beta5", "7.1rc1", "7.1", "7.1.1", "7.6rc3",
               "7.6", "7.6.1", "7.12", "7.16.1"]
    assert sorted(ordered, key=parse_version) == ordered
    assert parse_version("7.12") > parse_version("7.9.2")  # numbers, not strings


@given(versions)
def test_text_round_trip(version):
    assert parse_version(str(version)) == version


@given(versions, versions)
def test_order_is_the_tuple_order_of_major_minor_release_number(a, b):
    key = lambda v: (v.major, v.minor, RELEASE_RANKS[v.release], v.number)  # noqa: E731
    assert (a < b) == (key(a) < key(b))
    assert (a == b) == (key(a) == key(b))


@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99))
def test_release_candidate_is_below_the_final_of_the_same_number(major, minor, rc, patch):
    candidate = RouterOSVersion.from_parts(major, minor, "rc", rc)
    assert candidate < RouterOSVersion.from_parts(major, minor, "final", patch)
    assert candidate < RouterOSVersion.from_parts(major, minor + 1, "alpha", 0)


@given(st.integers(0, 99), st.integers(0, 99), releases.filter(lambda r: r != "dev"),
       st.integers(0, 99))
def test_npk_encoding_round_trip(major, minor, release, number):
    version = RouterOSVersion.from_parts(major, minor, release, number)
    assert decode_version(encode_version(version)) == version


@pytest.mark.parametrize(("text", "expected"), [
    ("7.16.1", (7, 16, "final", 1)), ("7.12", (7, 12, "final", 0)),
    ("7.6rc3", (7, 6, "rc", 3)), ("7.1beta5", (7, 1, "beta", 5)), ("6.45.9", (6, 45, "final", 9)),
    ("0.0", (0, 0, "final", 0)), ("7.15test3", (7, 15, "test", 3)),
    ("7.25_ab434", (7, 25, "dev", 434)), ("7.23_ab650 (development)", (7, 23, "dev", 650)),
])
def test_forms(text, expected):
    v = parse_version(text)
    assert (v.major, v.minor, v.release, v.number) == expected


@pytest.mark.parametrize("text", ["", "7", "seven", "7.x", "7.1.2.3", "v7.1"])
def test_not_versions(text):
    with pytest.raises(UsageError):
        parse_version(text)
