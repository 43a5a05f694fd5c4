"""Flash by RouterOS version: which packages each board gets, for the architecture it
announced, from the verified cache (fetched from the mirror on first need) or from a
folder of .npk files chosen by what their headers say.

The station resolves a channel once per run, so a fleet gets one version. A board
whose architecture has no package, or that needs a newer RouterOS than the one asked
for, is refused with the reason and never offered; the other boards go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nitools.errors import ConfigError, PackageError, PluginError, UsageError
from nitools.fetch.mirror import FetchError, Mirror, NotOnMirror, package_path
from nitools.fetch.package_cache import PackageCache, canonical_name
from nitools.routeros.archs import FAMILIES, family_for_announcement, family_for_package
from nitools.routeros.npk import MAGIC, is_package_name, read_package
from nitools.routeros.version import RouterOSVersion, try_parse_version

log = logging.getLogger("nitools.releases")

MISSING_REMEMBERED = 60.0  # a package the mirror lacks is not asked for again this long


@dataclass(frozen=True)
class ReleaseChoice:
    """``--routeros``/``routeros=``, ``--package``/``packages=``, ``--mirror``/``mirror=``,
    ``--packages-dir``/``packages_dir=``."""

    routeros: str | None = None  # a version or a channel
    packages: tuple[str, ...] = ()  # extra packages by name: container, wifi-qcom, ...
    mirror: str | None = None  # None: the default mirror
    packages_dir: str | None = None

    def __post_init__(self) -> None:
        for name in self.packages:
            if not is_package_name(name):
                raise UsageError(f"'{name}' is not a RouterOS package name (lower-case "
                                 "letters, digits and '-'): fix --package or packages=")

    @property
    def active(self) -> bool:
        return bool(self.routeros or self.packages_dir)


class PackagesDir:
    """A folder of .npk files, indexed by name, version and architecture family as each
    file's header says (a file's name is never trusted)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"packages folder {folder} does not exist: fix --packages-dir")
        self.index: dict[tuple[str, RouterOSVersion, str], Path] = {}
        for path in sorted(self.folder.iterdir()):
            if not path.is_file() or not _starts_with_magic(path):
                continue
            try:
                package = read_package(path)
            except PackageError as exc:
                log.warning("%s skipped: %s", path, exc)
                continue
            family = family_for_package(package.arch)
            if family is None:
                log.warning("%s skipped: architecture '%s' is unknown", path, package.arch)
                continue
            key = (canonical_name(package), package.version, family.name)
            if key in self.index:
                log.warning("%s skipped: %s holds the same package", path, self.index[key])
                continue
            self.index[key] = path
        if not any(name == "routeros" for name, _, _ in self.index):
            raise ConfigError(f"{folder} holds no RouterOS system package (routeros-*.npk)")

    def system_versions(self, family: str) -> list[RouterOSVersion]:
        return sorted(v for name, v, f in self.index if name == "routeros" and f == family)

    def families(self) -> set[str]:
        return {family for _, _, family in self.index}

    def extras(self, version: RouterOSVersion, family: str) -> list[str]:
        return sorted(name for name, v, f in self.index
                      if name != "routeros" and v == version and f == family)

    def find(self, name: str, version: RouterOSVersion, family: str) -> Path | None:
        return self.index.get((name, version, family))


class ReleaseFiles:
    """The packages of one RouterOS release for each architecture, shared by every board
    of that architecture (thread-safe: boards are prepared in worker threads)."""

    def __init__(self, choice: ReleaseChoice, cache: PackageCache) -> None:
        self.choice = choice
        self.cache = cache
        self.folder = PackagesDir(choice.packages_dir) if choice.packages_dir else None
        self.version: RouterOSVersion | None = None
        self._resolved: dict[str, Future[RouterOSVersion]] = {}  # text -> its one answer
        self._missing: dict[tuple[str, RouterOSVersion, str], tuple[float, str]] = {}
        self._verified: dict[tuple[str, RouterOSVersion, str], Path] = {}
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Stop the downloads under way (the station is stopping)."""
        if self.cache.mirror is not None:
            self.cache.mirror.cancelled.set()

    def start(self) -> None:
        """Resolve the version once and fail now, before any offer, when no board could
        be served: an unknown version or channel, a mirror down with nothing cached."""
        if self.choice.routeros:
            self.version = self.resolve(self.choice.routeros)
            log.info("RouterOS %s%s", self.version,
                     f" (channel {self.choice.routeros})"
                     if str(self.version) != self.choice.routeros.strip() else "")
        if self.folder is not None:
            for family in sorted(self.folder.families()):
                versions = self.folder.system_versions(family)
                if self.version is None and len(versions) > 1:
                    raise ConfigError(
                        f"{self.folder.folder} holds RouterOS {', '.join(map(str, versions))} "
                        f"for {family}: choose one with --routeros")
            if self.choice.mirror is None:
                return
        if self.version is not None and self.cache.mirror is not None \
                and not self.cache.mirror.reachable():
            if not self.cache.has_version(self.version):
                raise FetchError(f"mirror {self.cache.mirror.base} cannot be reached and the "
                                 f"cache {self.cache.root} has no RouterOS {self.version} "
                                 "packages: check the network or --mirror")
            log.warning("mirror %s cannot be reached: only cached packages of %s will be "
                        "installed", self.cache.mirror.base, self.version)
            return
        if self.version is not None and self.cache.mirror is not None:
            self._check_published(self.version, self.cache.mirror)

    def _check_published(self, version: RouterOSVersion, mirror: Mirror) -> None:
        """A version no architecture's system package exists for is refused at start,
        not per board (a local mirror may hold some architectures only: one is enough)."""
        if self.cache.has_version(version):
            return
        paths = [package_path("routeros", version, family.name) for family in FAMILIES]
        for path in paths:
            if mirror.has(path) is not False:
                return  # published (or the mirror could not tell): boards will say more
        raise FetchError(f"RouterOS {version} is not on the mirror {mirror.base}: no system "
                         f"package for any architecture (such as {mirror.url(paths[0])}): "
                         "check the version")

    def resolve(self, text: str) -> RouterOSVersion:
        """A version, or a channel asked of the mirror once per run. No lock is held
        while the mirror is asked: boards of another channel or version never wait for
        it; boards of the same channel wait for the one answer (a failure is not kept)."""
        with self._lock:
            answer = self._resolved.get(text)
            asking = answer is None
            if asking:
                answer = self._resolved[text] = Future()
        assert answer is not None
        if asking:
            try:
                answer.set_result(self.cache.resolve(text))
            except BaseException as exc:
                answer.set_exception(exc)
                with self._lock:
                    self._resolved.pop(text, None)
        return answer.result()

    def files(self, arch: str, min_version: str, board: str, routeros: str | None = None,
              packages: Sequence[str] | None = None) -> list[str]:
        """The system package and extras for a board of this architecture, in wire order;
        ``min_version``: the oldest RouterOS it takes; ``board``: how errors name it."""
        family = family_for_announcement(arch)
        if family is None:
            raise PluginError(f"board {board} announces architecture '{arch}', "
                              "which nitools does not know: no package can be chosen")
        version = self.resolve(routeros) if routeros else self._version_for(family.name)
        needs = try_parse_version(min_version)
        if needs is not None and needs > version:
            raise PluginError(f"board {board} needs RouterOS {needs} or newer; this "
                              f"station installs {version}: left untouched")
        if packages is not None:
            extras = list(packages)
        elif self.choice.packages or self.folder is None:
            extras = list(self.choice.packages)
        else:  # a folder and no names: every extra of that release, as netinstall-cli does
            extras = self.folder.extras(version, family.name)
        return [str(self._one(name, version, family.name)) for name in ["routeros", *extras]]

    def _version_for(self, family: str) -> RouterOSVersion:
        if self.version is not None:
            return self.version
        versions = self.folder.system_versions(family) if self.folder is not None else []
        if not versions:
            raise PluginError(f"{self.choice.packages_dir} holds no RouterOS package for "
                              f"{family}")
        return versions[-1]

    def _one(self, name: str, version: RouterOSVersion, family: str) -> Path:
        if self.folder is not None:
            found = self.folder.find(name, version, family)
            if found is not None:
                return found
            if self.choice.mirror is None:
                raise PluginError(f"{self.folder.folder} holds no {name} {version} for "
                                  f"{family}")
        key = (name, version, family)
        with self._lock:
            remembered = self._missing.get(key)
            known = self._verified.get(key)
        if known is not None and known.exists():
            return known  # verified once this run: every board of the arch shares it
        if remembered and time.monotonic() - remembered[0] < MISSING_REMEMBERED:
            raise PluginError(remembered[1])
        try:
            path = self.cache.package(name, version, family)
            with self._lock:
                self._verified[key] = path
            return path
        except NotOnMirror as exc:
            reason = f"no {name} {version} package for {family}: {exc}"
            with self._lock:
                self._missing[key] = (time.monotonic(), reason)
            raise PluginError(reason) from None


class ReleasePlugin:
    """The plugin a station uses when told a version or a packages folder: every board
    gets its own architecture's files, and the ini's ``config=`` (if any)."""

    def __init__(self, release: ReleaseFiles, config: str | None = None) -> None:
        self.release = release
        self.config = config

    def get_files(self, info: Any) -> tuple[Any, ...]:
        """pyNetinstall's plugin call: ``info`` has ``arch``, ``min_os`` and ``mac_text``."""
        return (*self.release.files(info.arch, info.min_os, info.mac_text), self.config)


def _starts_with_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False
