"""`nitools extract` on the committed toolchain-built fixtures and on variants
generated at test time with the project's own PE writer (tests/pe_writer.py),
whose boot-image payloads are the synthetic images of the committed fixture."""

import hashlib
import json
import random

import pytest

from nitools.commands.extract import run_extract
from nitools.netboot.bootimages import ExtractError, extract_file
from nitools.routeros.archs import BOOT_IMAGES, boot_image_by_id
from tests.helpers import REPO, run_cli
from tests.pe_writer import build_exe, prefixed

FIXTURES = REPO / "tests" / "fixtures" / "netinstall"
EXPECTED = json.loads((FIXTURES / "expected-extract.json").read_text())
MARKER = b"NITOOLS-SYNTHETIC-BOOT-IMAGE"


def sha(data) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fixture", sorted(k for k in EXPECTED if not k.startswith("_")))
def test_every_fixture_extracts_to_the_expected_bytes_names_and_manifest(fixture, tmp_path):
    expected = EXPECTED[fixture]
    assert run_extract([str(FIXTURES / fixture)], str(tmp_path), False, False, False) == 0
    manifest = json.loads((tmp_path / "bootimages.json").read_text())
    written = {p.name: sha(p.read_bytes()) for p in tmp_path.iterdir()
               if p.name != "bootimages.json"}
    assert written == expected["images"]
    (source,) = manifest["sources"]
    assert (source["version"], source["version_source"], source["kind"]) == (
        expected["version"], expected["version_source"], expected["kind"])
    assert {i["file"]: i["sha256"] for i in manifest["images"]} == expected["images"]
    for record in manifest["images"]:
        image = next((b for b in BOOT_IMAGES if b.boot_file == record["file"]), None)
        if image is not None:
            assert record["arch"] == image.name
            assert record["resource_id"] == image.resource_id
            assert record["vendor_classes"] == list(image.vendor_classes)
        assert record["size"] == (tmp_path / record["file"]).stat().st_size
    if "warnings" in expected:
        assert len(source["warnings"]) == expected["warnings"]
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        if data[:4] == b"\x7fELF" or data[:2] == b"MZ":
            assert MARKER in data  # never a real image
            assert path.stat().st_mode & 0o444 == 0o444  # dnsmasq (nobody) can read it


def test_v6_exe_names_ppc_images_by_id_alone(tmp_path):
    # The v6 PPC payloads are identical in shape: only the ids 129/130/135 tell them apart.
    (extraction,) = extract_file(str(FIXTURES / "netinstall-6.45.9.exe"))
    names = {i.resource: i.file_name for i in extraction.images}
    assert (names["129"], names["130"], names["135"]) == (
        "netinstall.ppc-e300", "netinstall.ppc-e500", "netinstall.ppc-440")
    assert not extraction.warnings


def test_both_exes_and_both_zips_give_identical_images(tmp_path):
    inputs = [str(FIXTURES / n) for n in ("netinstall64-7.16.1.exe", "netinstall-7.16.1.exe",
                                          "netinstall-7.16.1.zip", "netinstall64-7.16.1.zip")]
    assert run_extract(inputs, str(tmp_path), False, False, False) == 0
    manifest = json.loads((tmp_path / "bootimages.json").read_text())
    assert len(manifest["sources"]) == 4 and len(manifest["images"]) == 9


def test_list_writes_nothing_and_json_is_the_manifest(tmp_path):
    out = tmp_path / "out"
    result = run_cli("extract", "--list", "--json", "-o", str(out),
                     str(FIXTURES / "netinstall64-7.16.1.exe"))
    assert result.returncode == 0
    assert not out.exists()
    document = json.loads(result.stdout)
    assert {i["file"] for i in document["images"]} == set(
        EXPECTED["netinstall64-7.16.1.exe"]["images"])


def test_identical_files_are_left_alone_different_ones_need_force(tmp_path):
    exe = str(FIXTURES / "netinstall64-7.16.1.exe")
    run_extract([exe], str(tmp_path), False, False, False)
    arm64 = tmp_path / "netinstall.arm64"
    before = arm64.stat().st_mtime_ns
    run_extract([exe], str(tmp_path), False, False, False)
    assert arm64.stat().st_mtime_ns == before  # unchanged: not rewritten

    arm64.write_bytes(b"somebody else's image")
    (tmp_path / "netinstall.arm").unlink()
    result = run_cli("extract", "-o", str(tmp_path), exe)
    assert result.returncode == 1
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert arm64.read_bytes() == b"somebody else's image"
    assert not (tmp_path / "netinstall.arm").exists()  # nothing half-written

    assert run_cli("extract", "--force", "-o", str(tmp_path), exe).returncode == 0
    assert sha(arm64.read_bytes()) == EXPECTED["netinstall64-7.16.1.exe"]["images"][
        "netinstall.arm64"]


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"hello, not a netinstall file"), "is not a netinstall file"),
    (lambda p: p.write_bytes((FIXTURES / "netinstall64-7.16.1.exe").read_bytes()[:700]),
     "truncated or corrupt PE"),
    (lambda p: p.write_bytes(b"MZ" + bytes(100)), "truncated or corrupt PE"),
    (lambda p: p.write_bytes(b"PK\x03\x04garbage"), "damaged zip"),
    (lambda p: p.write_bytes(b"\x1f\x8b\x08garbage"), "damaged archive"),
])
def test_bad_inputs_get_one_line_errors(tmp_path, make, message):
    bad = tmp_path / "input.bin"
    make(bad)
    result = run_cli("extract", "-o", str(tmp_path / "out"), str(bad))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("extract", "-o", str(blocker / "sub"),
                     str(FIXTURES / "netinstall64-7.16.1.exe"))
    assert result.returncode == 1
    assert "cannot create output folder" in result.stderr


def test_truncated_pe_never_crashes(tmp_path):
    data = (FIXTURES / "netinstall64-7.16.1.exe").read_bytes()
    for cut in range(64, len(data), 997):
        path = tmp_path / "cut.exe"
        path.write_bytes(data[:cut])
        try:
            for extraction in extract_file(str(path)):
                extraction.close()
        except ExtractError:
            pass


# ------------------------------------------------------ variants made at test time


@pytest.fixture(scope="module")
def payloads():
    """Each architecture's synthetic boot image, as the toolchain-built fixture holds it."""
    (extraction,) = extract_file(str(FIXTURES / "netinstall64-7.16.1.exe"))
    images = {boot_image_by_id(int(i.resource)).name: bytes(i.data) for i in extraction.images}
    extraction.close()
    assert len(images) == len(BOOT_IMAGES)
    return images


def write_exe(path, rcdata, **options):
    path.write_bytes(build_exe(rcdata, **options))
    return path


@pytest.mark.parametrize("seed", range(12))
def test_random_id_sets_slack_languages_and_bits(seed, payloads, tmp_path):
    rng = random.Random(seed)
    chosen = rng.sample(BOOT_IMAGES, rng.randint(1, len(BOOT_IMAGES)))
    rcdata = {b.resource_id: prefixed(payloads[b.name], rng.choice([0, 0, 1, 3, 8, 100]))
              for b in chosen}
    version = rng.choice(["7.16.1", "7.21beta3", "7.12", "7.22rc1"])
    exe = write_exe(tmp_path / "netinstall-random.exe", rcdata, version=version,
                    bits=rng.choice([32, 64]), lang=rng.choice([0x409, 0, 0x407, 0x804]))
    (extraction,) = extract_file(str(exe))
    got = {i.file_name: sha(i.data) for i in extraction.images}
    assert got == {b.boot_file: sha(payloads[b.name]) for b in chosen}
    assert extraction.version == version
    assert not extraction.warnings
    extraction.close()


def test_named_entries_corrupt_prefixes_and_unprefixed_images(payloads, tmp_path):
    exe = write_exe(tmp_path / "hostile.exe", {
        139: prefixed(payloads["arm64"]), 137: payloads["arm"],  # 137 without its prefix
        "NAMED": b"\0", 150: bytes.fromhex("ffffffff0102"), 151: payloads["mipsbe"][:40]})
    (extraction,) = extract_file(str(exe))
    names = {i.resource: i.file_name for i in extraction.images}
    assert names["139"] == "netinstall.arm64"
    assert names["137"] == "netinstall.arm"  # unprefixed but a proper ARM ELF: kept, warned
    assert "NAMED" not in names and "150" not in names
    assert any("no length prefix" in w for w in extraction.warnings)
    assert any("NAMED" in w for w in extraction.warnings)
    extraction.close()


def test_id_and_content_mismatch_gets_a_content_name_and_a_warning(payloads, tmp_path):
    exe = write_exe(tmp_path / "swapped.exe", {139: prefixed(payloads["arm"]),
                                               137: prefixed(payloads["arm64"])})
    (extraction,) = extract_file(str(exe))
    names = sorted(i.file_name for i in extraction.images)
    assert names == ["netinstall.arm-id139", "netinstall.arm64-id137"]
    assert len(extraction.warnings) == 2
    extraction.close()


def test_version_falls_back_to_the_file_name(payloads, tmp_path):
    exe = write_exe(tmp_path / "netinstall64-7.19.2.exe", {139: prefixed(payloads["arm64"])},
                    version_strings=False, fixed_version="0.0.0.0")
    (extraction,) = extract_file(str(exe))
    assert (extraction.version, extraction.version_source) == ("7.19.2", "file name")
    extraction.close()


def test_exe_without_boot_images(tmp_path):
    exe = write_exe(tmp_path / "other.exe", {})
    with pytest.raises(ExtractError, match="holds no boot images"):
        extract_file(str(exe))


def test_zip_without_netinstall(tmp_path):
    import zipfile
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("LICENSE.txt", "x")
    with pytest.raises(ExtractError, match="no netinstall"):
        extract_file(str(path))


def test_the_test_pe_writer_matches_the_toolchain_built_fixture(payloads, tmp_path):
    # The committed PE was built by a real resource compiler and linker; the project's own
    # writer, given the same images under the same ids, must extract to the same bytes.
    rcdata = {b.resource_id: prefixed(payloads[b.name]) for b in BOOT_IMAGES}
    exe = write_exe(tmp_path / "netinstall64-7.16.1.exe", rcdata)
    (extraction,) = extract_file(str(exe))
    assert {i.file_name: sha(i.data) for i in extraction.images} == \
        EXPECTED["netinstall64-7.16.1.exe"]["images"]
    assert (extraction.version, extraction.version_source) == ("7.16.1", "ProductVersion")
    extraction.close()


def test_an_archive_member_that_unpacks_too_large_is_refused_before_it_is_read(
        tmp_path, monkeypatch):
    import zipfile

    import nitools.netboot.bootimages as bootimages

    # The real limit is 256 MiB; a 2 GiB zip bomb would take minutes to build here, so the
    # limit is lowered and a member of 8 MiB of zeros (a few kB compressed) stands in.
    monkeypatch.setattr(bootimages, "MAX_MEMBER_BYTES", 1024 * 1024)
    bomb = tmp_path / "netinstall-bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("netinstall64.exe", bytes(8 * 1024 * 1024))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ExtractError, match="unpacks to 8388608 bytes"):
        extract_file(str(bomb))
    # A header that understates the size cannot make it unpack more: the zip reader stops
    # at the declared size, and the CRC then fails.
    monkeypatch.setattr(zipfile.ZipInfo, "file_size", property(lambda self: 10, lambda s, v: None))
    with pytest.raises(ExtractError, match="damaged zip file"):
        extract_file(str(bomb))


def test_extract_force_that_fails_midway_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    import errno

    import nitools.commands.extract as extract

    out = tmp_path / "out"
    assert run_extract([str(FIXTURES / "netinstall64-edge.exe")], str(out), False, True,
                       False) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_stage, calls = extract._stage, []

    def disk_fills_up(target, data):  # the third file no longer fits
        calls.append(target.name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_stage(target, data)

    monkeypatch.setattr(extract, "_stage", disk_fills_up)
    with pytest.raises(ExtractError, match="nothing was changed"):
        run_extract([str(FIXTURES / "netinstall64-7.16.1.exe")], str(out), False, True, True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary left
