"""`nitools extract` on the committed toolchain-built fixtures and on variants
generated at test time with the shared pure-Python PE writer."""

import hashlib
import importlib.util
import json
import random
import shutil
import sys

import pytest

from nitools.archs import BOOT_IMAGES
from nitools.bootimages import ExtractError, extract_file
from nitools.commands.extract import run_extract
from tests.helpers import REPO, run_cli

FIXTURES = REPO / "tests" / "fixtures" / "netinstall"
EXPECTED = json.loads((FIXTURES / "expected-extract.json").read_text())
GENERATORS = REPO.parent / "shared" / "tools" / "bootimage-fixtures"
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


def _load(name):
    path = GENERATORS / f"{name}.py"
    if not path.exists():
        pytest.skip(f"fixture generators not found at {GENERATORS} (../shared is missing)")
    spec = importlib.util.spec_from_file_location(f"shared_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    folder = tmp_path_factory.mktemp("payloads")
    _load("mkelf").main(["--all", str(folder)])
    return folder


FILES = {"ppc-e300": "ppc-e300.elf", "ppc-e500": "ppc-e500.elf", "mipsbe": "mipsbe.elf",
         "ppc-440": "ppc-440.elf", "tile": "tile.elf", "arm": "arm.elf", "mmips": "mmips.elf",
         "arm64": "arm64.elf", "x86": "x86-pxe.efi"}


@pytest.mark.parametrize("seed", range(12))
def test_random_id_sets_slack_languages_and_bits(seed, payloads, tmp_path):
    mkpe = _load("mkpe")
    rng = random.Random(seed)
    chosen = rng.sample(BOOT_IMAGES, rng.randint(1, len(BOOT_IMAGES)))
    entries = [f"{b.resource_id}={payloads / FILES[b.name]}:{rng.choice([0, 0, 1, 3, 8, 100])}"
               for b in chosen]
    lang = rng.choice(["0x409", "0", "0x407", "0x804"])
    bits = rng.choice(["32", "64"])
    version = rng.choice(["7.16.1", "7.21beta3", "7.12", "7.22rc1"])
    exe = tmp_path / "netinstall-random.exe"
    mkpe.main([str(exe), *entries, "--bits", bits, "--lang", lang, "--version", version])
    (extraction,) = extract_file(str(exe))
    got = {i.file_name: sha(i.data) for i in extraction.images}
    assert got == {b.boot_file: sha((payloads / FILES[b.name]).read_bytes()) for b in chosen}
    assert extraction.version == version
    assert not extraction.warnings
    extraction.close()


def test_named_entries_corrupt_prefixes_and_unprefixed_images(payloads, tmp_path):
    mkpe = _load("mkpe")
    exe = tmp_path / "hostile.exe"
    mkpe.main([str(exe), f"139={payloads / 'arm64.elf'}", f"137={payloads / 'arm.elf'}:raw",
               "--extra", "NAMED=00", "--extra", "150=ffffffff0102",
               "--extra", f"151={(payloads / 'mipsbe.elf').read_bytes()[:40].hex()}"])
    (extraction,) = extract_file(str(exe))
    names = {i.resource: i.file_name for i in extraction.images}
    assert names["139"] == "netinstall.arm64"
    assert names["137"] == "netinstall.arm"  # unprefixed but a proper ARM ELF: kept, warned
    assert "NAMED" not in names and "150" not in names
    assert any("no length prefix" in w for w in extraction.warnings)
    assert any("NAMED" in w for w in extraction.warnings)
    extraction.close()


def test_id_and_content_mismatch_gets_a_content_name_and_a_warning(payloads, tmp_path):
    mkpe = _load("mkpe")
    exe = tmp_path / "swapped.exe"
    mkpe.main([str(exe), f"139={payloads / 'arm.elf'}", f"137={payloads / 'arm64.elf'}"])
    (extraction,) = extract_file(str(exe))
    names = sorted(i.file_name for i in extraction.images)
    assert names == ["netinstall.arm-id139", "netinstall.arm64-id137"]
    assert len(extraction.warnings) == 2
    extraction.close()


def test_version_falls_back_to_the_file_name(payloads, tmp_path):
    mkpe = _load("mkpe")
    exe = tmp_path / "netinstall64-7.19.2.exe"
    mkpe.main([str(exe), f"139={payloads / 'arm64.elf'}", "--no-strings", "--fixed", "0.0.0.0"])
    (extraction,) = extract_file(str(exe))
    assert (extraction.version, extraction.version_source) == ("7.19.2", "file name")
    extraction.close()


def test_exe_without_boot_images(payloads, tmp_path):
    mkpe = _load("mkpe")
    exe = tmp_path / "other.exe"
    mkpe.main([str(exe)])
    with pytest.raises(ExtractError, match="holds no boot images"):
        extract_file(str(exe))


def test_zip_without_netinstall(tmp_path):
    import zipfile
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("LICENSE.txt", "x")
    with pytest.raises(ExtractError, match="no netinstall"):
        extract_file(str(path))


def test_generators_reproduce_the_committed_fixture(payloads, tmp_path):
    # The committed PE was built by windres/ld; mkpe builds the same resources. Both must
    # extract to the same images, which ties the committed set to the generator payloads.
    mkpe = _load("mkpe")
    entries = [f"{b.resource_id}={payloads / FILES[b.name]}" for b in BOOT_IMAGES]
    exe = tmp_path / "netinstall64-7.16.1.exe"
    mkpe.main([str(exe), *entries])
    (extraction,) = extract_file(str(exe))
    assert {i.file_name: sha(i.data) for i in extraction.images} == \
        EXPECTED["netinstall64-7.16.1.exe"]["images"]
    extraction.close()
    shutil.rmtree(tmp_path, ignore_errors=True)
