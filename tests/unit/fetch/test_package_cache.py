"""nitools fetch and the verified package cache, against a real HTTP server on 127.0.0.1
with MikroTik's layout: versions, channels, resume, offline use, and files that lie."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.errors import PackageError, PluginError, UsageError
from nitools.fetch.mirror import FetchError, Mirror, NotOnMirror
from nitools.fetch.package_cache import PackageCache
from nitools.fetch.releases import PackagesDir, ReleaseChoice, ReleaseFiles
from nitools.routeros.npk import read_package
from nitools.routeros.version import parse_version
from tests.helpers import run_cli
from tests.mirror_server import build_mirror, mirror, package_bytes

V = parse_version("7.16.1")


@pytest.fixture
def served(tmp_path):
    with mirror(tmp_path / "mirror") as server:
        yield server


def cache_for(server, tmp_path, **options) -> PackageCache:
    return PackageCache(tmp_path / "cache", Mirror(server.url, **options))


def fetch(server, tmp_path, *args: str):
    return run_cli("fetch", "--mirror", server.url, "--cache", str(tmp_path / "cache"), *args)


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock")


# ------------------------------------------------------------------ fetch


def test_fetch_three_architectures_with_an_extra_prints_verified_cached_paths(served, tmp_path):
    result = fetch(served, tmp_path, "7.16.1", "--arch", "arm", "--arch", "arm64",
                   "--arch", "mipsbe", "--package", "container")
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    assert len(paths) == 6
    for path in paths:
        name = path.rsplit("/", 1)[1]
        assert (served.root / "routeros" / "7.16.1" / name).read_bytes() == \
            Path(path).read_bytes()
        assert path.startswith(str(tmp_path / "cache" / "routeros" / "7.16.1"))
    assert read_package(paths[0]).arch == "arm" and read_package(paths[1]).name == "container"


def test_json_names_each_file(served, tmp_path):
    result = fetch(served, tmp_path, "7.16.1", "--arch", "arm64", "--json")
    document = json.loads(result.stdout)
    assert document["version"] == "7.16.1"
    (entry,) = document["files"]
    assert (entry["name"], entry["version"], entry["arch"]) == ("system", "7.16.1", "arm64")


def test_channels_resolve_through_the_newest_file(served, tmp_path):
    cache = cache_for(served, tmp_path)
    assert str(cache.resolve("stable")) == "7.16.1"
    assert str(cache.resolve("testing")) == "7.17rc2"
    path = cache.package("routeros", cache.resolve("long-term"), "arm")
    assert read_package(path).version == parse_version("7.15.3")
    assert ("/routeros/NEWESTa7.stable", None) in served.requests


def test_cached_packages_and_channels_are_used_without_the_server(tmp_path):
    with mirror(tmp_path / "mirror") as server:
        url = server.url
        first = fetch(server, tmp_path, "stable", "--arch", "arm64", "--package", "container")
        assert first.returncode == 0, first.stderr
    offline = run_cli("fetch", "--mirror", url, "--cache", str(tmp_path / "cache"), "stable",
                      "--arch", "arm64", "--package", "container", "--timeout", "2")
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == first.stdout
    assert "using the cached answer for stable" in offline.stderr


def test_an_unknown_version_or_channel_is_one_line_naming_the_url(served, tmp_path):
    result = fetch(served, tmp_path, "7.99", "--arch", "arm64")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"{served.url}/routeros/7.99/routeros-7.99-arm64.npk")
    assert "Traceback" not in result.stderr
    unknown_channel = fetch(served, tmp_path, "development", "--arch", "arm64")
    assert unknown_channel.returncode == 1
    assert f"{served.url}/routeros/NEWESTa7.development not found" in unknown_channel.stderr
    assert "neither a RouterOS version" in fetch(served, tmp_path, "newest", "--arch",
                                                 "arm").stderr
    assert files_in(tmp_path / "cache") == []


def test_a_package_under_another_architectures_name_is_refused_and_deleted(served, tmp_path):
    cache = cache_for(served, tmp_path)
    with pytest.raises(PackageError, match=r"not what its name says: it holds system 7.16.1 "
                                           r"for arm, not routeros 7.16.1 for mmips"):
        cache.package("routeros", V, "mmips")
    assert files_in(tmp_path / "cache") == []


def test_a_truncated_file_on_the_server_is_refused_and_nothing_is_cached(served, tmp_path):
    result = fetch(served, tmp_path, "7.16.1", "--arch", "smips")
    assert result.returncode == 1 and "truncated" in result.stderr
    assert files_in(tmp_path / "cache") == []


def test_a_cut_download_resumes_with_a_range_request(served, tmp_path):
    path = "/routeros/7.16.1/routeros-7.16.1-arm64.npk"
    served.cut[path] = 50_000
    cache = cache_for(served, tmp_path)
    with pytest.raises(FetchError, match=r"run again to resume"):
        cache.package("routeros", V, "arm64")
    part = tmp_path / "cache" / "routeros" / "7.16.1" / "routeros-7.16.1-arm64.npk.part"
    assert part.stat().st_size == 50_000
    assert files_in(tmp_path / "cache") == ["routeros-7.16.1-arm64.npk.part",
                                            "routeros-7.16.1-arm64.npk.part.url"]
    done = cache.package("routeros", V, "arm64")
    assert served.ranges(path) == [None, "bytes=50000-"]
    assert done.read_bytes() == package_bytes("system", "7.16.1", "arm64")
    assert not part.exists()


def test_a_stalling_server_times_out_and_leaves_no_package(served, tmp_path):
    path = "/routeros/7.16.1/routeros-7.16.1-arm.npk"
    served.stall[path] = 10_000
    started = time.monotonic()
    result = fetch(served, tmp_path, "7.16.1", "--arch", "arm", "--timeout", "1")
    assert result.returncode == 1
    assert "stopped answering (timeout)" in result.stderr
    assert time.monotonic() - started < 20
    assert [n for n in files_in(tmp_path / "cache")
            if not n.endswith((".part", ".part.url"))] == []  # a resumable partial only


def test_a_broken_cached_file_is_fetched_again_and_refresh_downloads_anew(served, tmp_path):
    cache = cache_for(served, tmp_path)
    path = cache.package("routeros", V, "arm")
    path.write_bytes(path.read_bytes()[:-10])
    again = cache.package("routeros", V, "arm")
    assert again.read_bytes() == package_bytes("system", "7.16.1", "arm")
    url = "/routeros/7.16.1/routeros-7.16.1-arm.npk"
    assert len(served.ranges(url)) == 2
    cache.package("routeros", V, "arm")
    assert len(served.ranges(url)) == 2  # a good cached file: no request
    PackageCache(tmp_path / "cache", Mirror(served.url), refresh=True).package(
        "routeros", V, "arm")
    assert len(served.ranges(url)) == 3


def test_boards_of_one_architecture_asking_at_once_download_once(served, tmp_path):
    cache = cache_for(served, tmp_path)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        cache.package("container", V, "arm64"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert len(served.ranges("/routeros/7.16.1/container-7.16.1-arm64.npk")) == 1


def test_all_packages_unpacks_each_verified_member(served, tmp_path):
    result = fetch(served, tmp_path, "7.16.1", "--arch", "arm", "--all-packages")
    assert result.returncode == 0, result.stderr
    names = [p.rsplit("/", 1)[1] for p in result.stdout.split()]
    assert names == ["routeros-7.16.1-arm.npk", "container-7.16.1-arm.npk",
                     "wifi-qcom-7.16.1-arm.npk"]


def test_list_and_prune(served, tmp_path):
    for version in ("7.16.1", "7.15.3"):
        assert fetch(served, tmp_path, version, "--arch", "arm").returncode == 0
    listed = fetch(served, tmp_path, "--list").stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["7.15.3", "7.16.1"]
    pruned = fetch(served, tmp_path, "stable", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "7.15.3" in pruned.stderr
    assert [line.split("\t")[0] for line in fetch(served, tmp_path, "--list").stdout
            .splitlines()] == ["7.16.1"]


def test_a_local_folder_is_a_mirror_too(tmp_path):
    build_mirror(tmp_path / "copy")
    result = run_cli("fetch", "--mirror", str(tmp_path / "copy"), "--cache",
                     str(tmp_path / "cache"), "stable", "--arch", "arm64")
    assert result.returncode == 0, result.stderr
    assert read_package(result.stdout.strip()).arch == "arm64"


def test_extract_version_fetches_netinstall_zip_and_extracts_it(served, tmp_path):
    result = run_cli("extract", "--version", "7.16.1", "--mirror", served.url, "-o",
                     str(tmp_path / "images"), env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "images" / "bootimages.json").read_text())
    assert {image["arch"] for image in manifest["images"]} >= {"arm", "arm64", "mipsbe"}
    assert (tmp_path / "xdg" / "nitools" / "routeros" / "7.16.1" /
            "netinstall-7.16.1.zip").exists()


def test_bad_arguments_get_one_line_errors(served, tmp_path):
    assert "not a package architecture" in fetch(served, tmp_path, "7.16.1", "--arch",
                                                 "sparc").stderr
    assert "name at least one --arch" in fetch(served, tmp_path, "7.16.1").stderr
    no_mirror = run_cli("fetch", "--mirror", str(tmp_path / "nowhere"), "7.16.1", "--arch",
                        "arm")
    assert no_mirror.returncode != 0 and "neither an http(s) URL nor a folder" in \
        no_mirror.stderr


# ------------------------------------------------------------------ flash by version


def board(arch: str, min_version: str = "6.40") -> tuple[str, str, str]:
    """What ReleaseFiles.files is told of a board: arch, minimum version, its name."""
    return arch, min_version, "02:00:00:00:00:01"


def release(server, tmp_path, **choice) -> ReleaseFiles:
    files = ReleaseFiles(ReleaseChoice(**choice), cache_for(server, tmp_path))
    files.start()
    return files


def test_each_architecture_gets_its_own_files_and_the_channel_is_resolved_once(served,
                                                                                 tmp_path):
    files = release(served, tmp_path, routeros="stable", packages=("container",))
    asked = []
    real_package = files.cache.package
    files.cache.package = lambda *key: asked.append(key) or real_package(*key)
    for arch in ("arm", "arm64", "mipsbe", "arm64", "arm"):
        chosen = files.files(*board(arch))
        assert [read_package(p).arch for p in chosen] == [arch, arch]
        assert [read_package(p).name for p in chosen] == ["system", "container"]
    assert len(served.ranges("/routeros/NEWESTa7.stable")) == 1
    assert len(asked) == 6  # 3 architectures x 2 packages, each verified once this run


def test_a_board_without_packages_or_too_new_is_refused_with_the_reason(served, tmp_path):
    files = release(served, tmp_path, routeros="7.16.1")
    with pytest.raises(PluginError, match=r"no routeros 7.16.1 package for ppc: not on the "
                                          r"mirror"):
        files.files(*board("powerpc"))
    with pytest.raises(PluginError, match=r"no routeros 7.16.1 package for ppc"):
        files.files(*board("ppc"))  # remembered: not asked of the mirror again
    assert len(served.ranges("/routeros/7.16.1/routeros-7.16.1-ppc.npk")) == 1
    with pytest.raises(PluginError, match=r"needs RouterOS 7.17 or newer; this station "
                                          r"installs 7.16.1"):
        files.files(*board("arm64", min_version="7.17"))
    with pytest.raises(PluginError, match=r"architecture 'sparc'"):
        files.files(*board("sparc"))
    assert files.files(*board("arm"))  # the others are not affected


def test_an_unreachable_mirror_with_nothing_cached_fails_at_start(tmp_path):
    dead = Mirror("http://127.0.0.1:9", read_timeout=2)
    files = ReleaseFiles(ReleaseChoice(routeros="7.16.1"), PackageCache(tmp_path / "c", dead))
    with pytest.raises(FetchError, match=r"cannot be reached and the cache .* has no RouterOS "
                                         r"7.16.1 packages"):
        files.start()
    with pytest.raises(FetchError, match=r"no earlier answer for stable is cached"):
        ReleaseFiles(ReleaseChoice(routeros="stable"), PackageCache(tmp_path / "c", dead)
                     ).start()


def test_packages_dir_chooses_by_header_never_by_name(tmp_path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    (folder / "routeros-7.16.1-arm64.npk").write_bytes(package_bytes("system", "7.16.1", "arm"))
    (folder / "a.npk").write_bytes(package_bytes("system", "7.16.1", "arm64"))
    (folder / "b.bin").write_bytes(package_bytes("container", "7.16.1", "arm64"))
    (folder / "notes.txt").write_text("not a package")
    (folder / "broken.npk").write_bytes(package_bytes("system", "7.16.1", "mipsbe")[:999])
    files = ReleaseFiles(ReleaseChoice(packages_dir=str(folder)), PackageCache(tmp_path / "c"))
    files.start()
    assert files.files(*board("arm64")) == [str(folder / "a.npk"), str(folder / "b.bin")]
    assert files.files(*board("arm")) == [str(folder / "routeros-7.16.1-arm64.npk")]
    with pytest.raises(PluginError, match=r"holds no RouterOS package for mipsbe"):
        files.files(*board("mipsbe"))


def test_packages_dir_with_two_versions_needs_routeros(tmp_path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    for version in ("7.15.3", "7.16.1"):
        (folder / f"{version}.npk").write_bytes(package_bytes("system", version, "arm"))
    with pytest.raises(UsageError, match=r"holds RouterOS 7.15.3, 7.16.1 for arm: choose one"):
        ReleaseFiles(ReleaseChoice(packages_dir=str(folder)), PackageCache(tmp_path)).start()
    files = ReleaseFiles(ReleaseChoice(packages_dir=str(folder), routeros="7.15.3"),
                         PackageCache(tmp_path))
    files.start()
    assert files.files(*board("arm")) == [str(folder / "7.15.3.npk")]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "container.npk").write_bytes(package_bytes("container", "7.16.1",
                                                                     "arm"))
    with pytest.raises(UsageError, match=r"holds no RouterOS system package"):
        PackagesDir(str(tmp_path / "empty"))


def test_a_package_without_digest_never_enters_the_cache(tmp_path):
    root = tmp_path / "m"
    (root / "routeros" / "7.16.1").mkdir(parents=True)
    (root / "routeros" / "7.16.1" / "routeros-7.16.1-arm.npk").write_bytes(
        build_npk("system", "7.16.1", "arm", signature_length=0))
    cache = PackageCache(tmp_path / "cache", Mirror(str(root)))
    with pytest.raises(PackageError, match=r"no SHA-1 digest"):
        cache.package("routeros", V, "arm")
    with pytest.raises(NotOnMirror):
        cache.package("routeros", V, "arm64")
    assert files_in(tmp_path / "cache") == []
    assert cache.entries() == []


# ----------------------------------------------- what a hostile mirror cannot do


def _hostile_v6_mirror(root: Path, member_name: str) -> Path:
    """A v6 release whose all_packages zip holds a package that names itself
    ``member_name`` (valid digest, right version and architecture)."""
    import zipfile

    folder = root / "routeros" / "6.49.10"
    folder.mkdir(parents=True)
    (folder / "routeros-mipsbe-6.49.10.npk").write_bytes(
        package_bytes("system", "6.49.10", "mipsbe"))
    with zipfile.ZipFile(folder / "all_packages-mipsbe-6.49.10.zip", "w") as archive:
        archive.writestr("ntp-6.49.10-mipsbe.npk",
                         build_npk(member_name, "6.49.10", "mipsbe", size=4000,
                                   requires=("system", "6.49.10")))
    return root


def test_a_package_naming_itself_a_path_never_writes_outside_the_cache(tmp_path):
    from tests.helpers import http_server

    mirror_root = _hostile_v6_mirror(tmp_path / "mirror", "../../../../../x")
    cache = tmp_path / "a" / "b" / "c" / "cache"
    with http_server(mirror_root) as url:
        for args in (("--all-packages",), ("--package", "ntp")):
            result = run_cli("fetch", "6.49.10", "--arch", "mipsbe", *args, "--mirror", url,
                             "--cache", str(cache))
            assert result.returncode != 0
            assert "calls itself '../../../../../x': not a RouterOS package name" in \
                result.stderr
            errors = [line for line in result.stderr.splitlines() if "error" in line]
            assert "Traceback" not in result.stderr and len(errors) == 1
    written = [p for p in tmp_path.rglob("*") if p.name.startswith("x-")]
    assert written == []
    assert not (tmp_path / "a" / "x-mipsbe-6.49.10.npk").exists()


def test_a_package_name_that_is_not_one_is_a_usage_error(tmp_path):
    result = run_cli("fetch", "7.16.1", "--arch", "arm", "--package", "../../x",
                     "--mirror", str(tmp_path), "--cache", str(tmp_path / "cache"))
    assert result.returncode == 2
    assert "--package '../../x' is not a RouterOS package name" in result.stderr
    with pytest.raises(UsageError, match="not a RouterOS package name"):
        ReleaseChoice(routeros="7.16.1", packages=("container", "Bad/Name"))


def test_a_version_folder_linked_out_of_the_cache_is_refused(served, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "cache" / "routeros").mkdir(parents=True)
    (tmp_path / "cache" / "routeros" / "7.16.1").symlink_to(outside)
    with pytest.raises(PackageError, match="outside the cache"):
        cache_for(served, tmp_path).package("routeros", V, "arm64")
    assert list(outside.iterdir()) == []


def test_a_planted_part_link_is_not_followed(served, tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    folder = tmp_path / "cache" / "routeros" / "7.16.1"
    folder.mkdir(parents=True)
    (folder / "routeros-7.16.1-arm64.npk.part").symlink_to(victim)
    path = cache_for(served, tmp_path).package("routeros", V, "arm64")
    assert read_package(path).arch == "arm64" and not path.is_symlink()
    assert victim.read_bytes() == b"keep me"


def test_a_partial_is_resumed_only_from_the_same_url_and_dropped_when_worthless(
        served, tmp_path, monkeypatch):
    from nitools.fetch import mirror as mirror_module
    from tests.mirror_server import MirrorServer

    path = "/routeros/7.16.1/routeros-7.16.1-arm64.npk"
    part = tmp_path / "cache" / "routeros" / "7.16.1" / "routeros-7.16.1-arm64.npk.part"
    served.cut[path] = 50_000
    with pytest.raises(FetchError, match="run again to resume"):
        cache_for(served, tmp_path).package("routeros", V, "arm64")
    assert part.stat().st_size == 50_000  # resumable: kept
    other = MirrorServer(served.root)  # the same layout under another URL
    with other.running():
        other.cut[path] = 60_000
        with pytest.raises(FetchError):
            cache_for(other, tmp_path).package("routeros", V, "arm64")
        assert other.ranges(path) == [None]  # another mirror's partial is never resumed
    assert part.stat().st_size == 60_000
    monkeypatch.setattr(mirror_module, "MAX_DOWNLOAD", 100_000)
    with pytest.raises(FetchError, match="too large"):
        cache_for(served, tmp_path).package("routeros", V, "arm64")
    assert files_in(tmp_path / "cache") == []  # worthless: nothing left behind


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path):
    import zipfile

    from tests.helpers import http_server

    folder = tmp_path / "mirror" / "routeros" / "6.49.10"
    folder.mkdir(parents=True)
    (folder / "routeros-mipsbe-6.49.10.npk").write_bytes(
        package_bytes("system", "6.49.10", "mipsbe"))
    with zipfile.ZipFile(folder / "all_packages-mipsbe-6.49.10.zip", "w",
                         zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ntp-6.49.10-mipsbe.npk", bytes(64 << 20))  # 64 MiB of zeros
    assert (folder / "all_packages-mipsbe-6.49.10.zip").stat().st_size < 200_000
    with http_server(tmp_path / "mirror") as url:
        result = run_cli("fetch", "6.49.10", "--arch", "mipsbe", "--all-packages",
                         "--mirror", url, "--cache", str(tmp_path / "cache"))
    assert result.returncode == 1 and "a zip bomb, not MikroTik's archive" in result.stderr
    assert [p.name for p in (tmp_path / "cache").rglob("all_packages-*")] == [
        "all_packages-mipsbe-6.49.10.zip.lock"]  # the lock file only: nothing kept


def test_a_channel_answer_is_kept_per_mirror(tmp_path):
    with mirror(tmp_path / "lab") as lab:
        assert cache_for(lab, tmp_path).resolve("stable") == V
        lab_url = lab.url
    offline = {"read_timeout": 2.0}
    again = PackageCache(tmp_path / "cache", Mirror(lab_url, **offline))
    assert again.resolve("stable") == V  # the lab mirror is gone: its own answer is used
    other = PackageCache(tmp_path / "cache", Mirror("http://127.0.0.1:9", **offline))
    with pytest.raises(FetchError, match="no earlier answer for stable is cached"):
        other.resolve("stable")  # never the lab mirror's answer for another mirror


def test_prune_removes_a_linked_version_folder_but_not_what_it_points_to(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "7.15.3"
    elsewhere.mkdir(parents=True)
    (elsewhere / "kept.npk").write_bytes(b"not the cache's")
    (tmp_path / "cache" / "routeros").mkdir(parents=True)
    (tmp_path / "cache" / "routeros" / "7.15.3").symlink_to(elsewhere)
    cache = PackageCache(tmp_path / "cache")
    assert cache.prune({"7.16.1"}) == [tmp_path / "cache" / "routeros" / "7.15.3"]
    assert (elsewhere / "kept.npk").exists()
    assert not (tmp_path / "cache" / "routeros" / "7.15.3").exists()


def test_a_station_worker_never_waits_for_another_workers_download(served, tmp_path):
    from nitools.fetch.package_cache import DownloadUnderWay

    path = "/routeros/7.16.1/routeros-7.16.1-arm64.npk"
    served.stall[path] = 10_000  # the first download drips, then hangs
    cache = PackageCache(tmp_path / "cache", Mirror(served.url, read_timeout=5),
                         wait_for_others=False)
    failures: list[Exception] = []

    def first_board() -> None:
        try:
            cache.package("routeros", V, "arm64")
        except FetchError as exc:  # the stalled download ends in an error
            failures.append(exc)

    first = threading.Thread(target=first_board)
    first.start()
    while not served.ranges(path):
        time.sleep(0.01)
    with pytest.raises(DownloadUnderWay, match="being fetched for another board"):
        cache.package("routeros", V, "arm64")  # the next board's worker: not held
    served.released.set()
    first.join(10)
    assert len(failures) == 1 and not isinstance(failures[0], DownloadUnderWay)
