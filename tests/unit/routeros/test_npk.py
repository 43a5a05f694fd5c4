"""The NPK reader against spec-following synthetic packages, good and broken."""

import struct
import tracemalloc

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.errors import PackageError
from nitools.routeros.npk import MAGIC, read_package


@pytest.mark.parametrize("kwargs", [
    dict(name="system", version="7.16.1", arch="arm64"),  # v7 system package
    dict(name="system", version="7.6rc3", arch="arm64", channel="testing"),
    dict(name="gps", version="6.45.6", arch="x86", leading_empty_part=False,
         signature_length=68, requires=("system", "6.45.6")),  # old v6 add-on
    dict(name="gps", version="6.48.4", arch="mipsbe", leading_empty_part=True,
         requires=("system", "6.48.4")),  # newer v6 add-on
    dict(name="container", version="7.16.1", arch="arm", requires=("system", "7.16.1")),
    dict(name="branding", version="7.16.1", arch="arm64", requires=("system", "7.16.1")),
    dict(name="system", version="7.1beta5", arch="mmips"),
    dict(name="system", version="7.15alpha2", arch="smips"),
])
def test_writer_and_reader_round_trip_every_field(kwargs, tmp_path):
    data = build_npk(size=20_000, build_time=1_712_345_678, **kwargs)
    path = tmp_path / "p.npk"
    path.write_bytes(data)
    package = read_package(path)
    assert package.name == kwargs["name"]
    assert str(package.version) == kwargs["version"]
    assert package.arch == kwargs["arch"]
    assert package.channel == kwargs.get("channel", "stable")
    assert package.build_time == 1_712_345_678
    assert package.kind == "package"
    assert package.size == len(data)
    assert package.signature_length == kwargs.get("signature_length", 132)
    assert package.signature_kind == {68: "sha1+kcdsa", 132: "sha1+kcdsa+ed25519"}[
        package.signature_length]
    assert package.digest_ok is True
    assert "SYNTHETIC" in package.description
    assert package.part_types[0] == (0x19 if kwargs.get("leading_empty_part", True) else 0x01)
    if "requires" in kwargs:
        (dep,) = package.dependencies
        assert (dep.name, str(dep.min_version), str(dep.max_version)) == (
            "system", kwargs["requires"][1], kwargs["requires"][1])
    else:
        assert package.dependencies == []


def test_add_on_size_fingerprint_matches_real_packages():
    # Real add-ons without a file container: size mod 4096 == 145 (spec §10).
    assert len(build_npk("gps", size=30_000, requires=("system", "7.16.1"))) % 4096 == 145


def test_unknown_part_types_are_skipped_not_fatal():
    data = build_npk(extra_parts=((0x7E, b"future"), (0x11, b"conflicts?")))
    package = read_package(data)
    assert 0x7E in package.part_types and package.digest_ok


def test_package_without_signature_reads_with_no_digest_verdict():
    package = read_package(build_npk(signature_length=0))
    assert package.signature_length is None and package.digest_ok is None


GOOD = build_npk(size=40_000)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"\x1e", "not a RouterOS package"),
    (b"<?xml version='1.0'?><Error>NoSuchKey</Error>", "XML document"),
    (b"<!DOCTYPE html><html><body>404</body></html>", "HTML page"),
    (b"PK\x03\x04" + bytes(40), "ZIP archive"),
    (b"\x88\xac\xa1\xb1" + bytes(40), "backup"),
    (GOOD[:-1000], "truncated"),
    (GOOD + b"junk", "junk after the package"),
    (MAGIC + struct.pack("<I", 3) + b"\x01\x00\x00", "part header is cut off"),
    (MAGIC + struct.pack("<I", 8) + struct.pack("<HI", 1, 99) + b"ab", "runs past the end"),
    (MAGIC + struct.pack("<I", 6) + struct.pack("<HI", 0x18, 0), "no package identity"),
])
def test_broken_files_are_refused_with_what_is_wrong(data, message):
    with pytest.raises(PackageError, match=message):
        read_package(data)


@pytest.mark.parametrize("offset", [100, 5000, 20_000, 39_000])
def test_a_flipped_byte_is_caught_by_the_digest(offset):
    broken = bytearray(GOOD)
    broken[offset] ^= 0x01
    with pytest.raises(PackageError):
        read_package(bytes(broken))


def test_reader_streams_a_large_package_from_disk(tmp_path):
    path = tmp_path / "big.npk"
    path.write_bytes(build_npk(size=15 * 1024 * 1024))
    tracemalloc.start()
    read_package(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # hashed in 1 MiB chunks, never held whole


def test_missing_file_is_a_package_error(tmp_path):
    with pytest.raises(PackageError, match="cannot read"):
        read_package(tmp_path / "nope.npk")
