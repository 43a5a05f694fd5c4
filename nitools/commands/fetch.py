"""``nitools fetch``: RouterOS packages by version or channel into the verified cache;
``--list`` and ``--prune`` manage it. Paths go to stdout, progress and logs to stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from nitools.console import setup_logging
from nitools.errors import UsageError
from nitools.fetch.mirror import DEFAULT_MIRROR, Mirror
from nitools.fetch.package_cache import PackageCache
from nitools.routeros.archs import FAMILIES
from nitools.routeros.npk import is_package_name, read_package
from nitools.routeros.version import RouterOSVersion

ARCH_NAMES = tuple(family.name for family in FAMILIES)


def run_fetch(options: Mapping[str, Any]) -> int:
    setup_logging(0, None)
    for name in options["packages"]:
        if not is_package_name(name):
            raise UsageError(f"--package '{name}' is not a RouterOS package name (lower-case "
                             "letters, digits and '-')")
    with _progress() as progress:
        cache = PackageCache(Path(options["cache_dir"]) if options["cache_dir"] else None,
                             Mirror(options["mirror"] or DEFAULT_MIRROR, options["timeout"]),
                             refresh=options["refresh"], progress=progress)
        if options["list_cache"]:
            return _list(cache, options["as_json"])
        text = options["routeros"]
        if not text:
            raise UsageError("name a version (7.16.1) or a channel (stable), or use --list")
        version = cache.resolve(text, v6=options["v6"])
        if options["prune"]:
            for folder in cache.prune({str(version)}):
                print(f"removed {folder}", file=sys.stderr)
        paths = _fetch(cache, version, options)
    if options["as_json"]:
        print(json.dumps({"version": str(version), "files": [_describe(p) for p in paths]},
                         indent=2))
    else:
        for path in paths:
            print(path)
    return 0


def _fetch(cache: PackageCache, version: RouterOSVersion, options: Mapping[str, Any]
           ) -> list[Path]:
    arches = list(options["arches"])
    unknown = [arch for arch in arches if arch not in ARCH_NAMES]
    if unknown:
        raise UsageError(f"--arch {unknown[0]} is not a package architecture: use one of "
                         f"{', '.join(ARCH_NAMES)}")
    if not arches and not options["netinstall"] and not options["prune"]:
        raise UsageError("name at least one --arch (arm, arm64, ...), or --netinstall")
    paths: list[Path] = []
    for arch in arches:
        paths.append(cache.package("routeros", version, arch))
        if options["all_packages"]:
            paths += [p for p in cache.all_packages(version, arch) if p not in paths]
        for name in options["packages"]:
            path = cache.package(name, version, arch)
            if path not in paths:
                paths.append(path)
    if options["netinstall"]:
        paths.append(cache.netinstall(version))
    return paths


def _describe(path: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(path), "size": path.stat().st_size}
    if path.suffix == ".npk":
        package = read_package(path)
        entry |= {"name": package.name, "version": str(package.version),
                  "arch": package.arch}
    return entry


def _list(cache: PackageCache, as_json: bool) -> int:
    entries = cache.entries()
    if as_json:
        print(json.dumps([{"version": e.version, "path": str(e.path), "size": e.size}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print(f"the cache {cache.root} is empty", file=sys.stderr)
    for entry in entries:
        print(f"{entry.version}\t{entry.size}\t{entry.path}")
    return 0


def fetch_netinstall(text: str, mirror: str | None, keep_logging: bool = False) -> Path:
    """For ``extract --version`` and ``station``: netinstall-<version>.zip through the
    cache (``keep_logging``: the caller has set logging up)."""
    if not keep_logging:
        setup_logging(0, None)
    with _progress() as progress:
        cache = PackageCache(mirror=Mirror(mirror or DEFAULT_MIRROR), progress=progress)
        return cache.netinstall(cache.resolve(text))


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A progress bar per download on a terminal; elsewhere the log lines say enough."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True) as bars:

        def factory(label: str) -> Any:
            task = bars.add_task(label, total=None)
            return lambda done, total: bars.update(task, completed=done, total=total)

        yield factory
