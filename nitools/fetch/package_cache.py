"""The verified package cache: a package enters it only after nitools' own NPK reader
has said it is what it was fetched as.

Layout, under ``$XDG_CACHE_HOME/nitools`` (``~/.cache/nitools``), or ``--cache DIR``::

    routeros/<version>/<file name on the mirror>   verified packages and zips
    routeros/<version>/<file name>.part            a download to resume (never used)
    routeros/<version>/<file name>.lock            held while one process fetches it
    channels/NEWESTa7.<channel>                    the last answer, for offline runs

Writes are atomic (``.part``, verify, rename), so a crash, a cut connection or a
broken file never leaves a file that looks cached. Thread- and process-safe: two
boards (or two stations) asking for the same package fetch it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nitools.errors import PackageError, UsageError
from nitools.fetch.mirror import (
    CHANNELS,
    FetchError,
    Mirror,
    NotOnMirror,
    Progress,
    all_packages_path,
    channel_path,
    netinstall_path,
    package_path,
    parse_channel_answer,
)
from nitools.routeros.archs import family_for_package
from nitools.routeros.npk import Package, is_package_name, read_package
from nitools.routeros.version import RouterOSVersion, parse_version

log = logging.getLogger("nitools.fetch")

MAX_MEMBER = 256 * 1024 * 1024  # one package inside all_packages-*.zip
ProgressFactory = Callable[[str], Progress | None]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nitools"


def canonical_name(package: Package) -> str:
    """The download name of a package: the system package is ``routeros``."""
    return "routeros" if package.is_system else package.name


def check_identity(package: Package, name: str, version: RouterOSVersion, family: str,
                   label: str) -> None:
    """Raise PackageError unless ``package`` is ``name`` ``version`` for ``family``."""
    if package.kind == "package" and package.digest_ok is not True:
        raise PackageError(f"{label} carries no SHA-1 digest to check: not a package "
                           "from MikroTik's servers")
    found = family_for_package(package.arch) if package.arch else None
    same_name = canonical_name(package) == name if name != "routeros" else package.is_system
    if not same_name or package.version != version or found is None or found.name != family:
        raise PackageError(
            f"{label} is not what its name says: it holds {package.name} {package.version} "
            f"for {package.arch or 'no architecture'}, not {name} {version} for {family}")


@dataclass(frozen=True)
class CacheEntry:
    version: str
    path: Path
    size: int


class DownloadUnderWay(FetchError):
    """Another thread or process is fetching this file now (``wait_for_others=False``):
    ask again in a moment instead of holding a worker."""


class PackageCache:
    def __init__(self, root: Path | None = None, mirror: Mirror | None = None,
                 refresh: bool = False, progress: ProgressFactory | None = None,
                 wait_for_others: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.mirror = mirror
        self.refresh = refresh  # fetch again what is cached, once per file in this run
        # A station's preparation workers never wait for each other's downloads.
        self.wait_for_others = wait_for_others
        self.progress = progress or (lambda label: None)
        self._refreshed: set[Path] = set()
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # ------------------------------------------------------------ versions

    def resolve(self, text: str, v6: bool = False) -> RouterOSVersion:
        """A version as given, or the newest of a channel (asked from the mirror; the
        last answer kept in the cache when the mirror cannot be reached)."""
        text = text.strip()
        if text not in CHANNELS:
            try:
                return parse_version(text)
            except UsageError:
                raise UsageError(f"'{text}' is neither a RouterOS version (7.16.1, 7.17rc2) "
                                 f"nor a channel ({', '.join(CHANNELS)})") from None
        path = channel_path(text, v6)
        if self.mirror is None:
            raise FetchError(f"channel {text} needs a mirror to ask: give --mirror")
        # Kept per mirror: a lab mirror's "stable" is not the official one's.
        mirror_key = hashlib.sha256(self.mirror.base.encode()).hexdigest()[:16]
        saved = self.root / "channels" / mirror_key / PurePosixPath(path).name
        try:
            answer = self.mirror.read_text(path)
        except NotOnMirror:
            raise FetchError(f"channel {text} is unknown to the mirror: "
                             f"{self.mirror.url(path)} not found") from None
        except FetchError as exc:
            if not saved.exists():
                raise FetchError(f"{exc}; no earlier answer for {text} is cached") from None
            age = time.time() - saved.stat().st_mtime
            version = parse_channel_answer(saved.read_text(), str(saved))
            log.warning("%s; using the cached answer for %s from %.1f h ago: %s", exc, text,
                        age / 3600, version)
            return version
        version = parse_channel_answer(answer, self.mirror.url(path))
        if (version.major >= 7) == v6:
            raise FetchError(f"{self.mirror.url(path)} names {version}: is the mirror right?")
        _write_atomic(saved, answer.encode())
        return version

    # ------------------------------------------------------------ packages

    def package(self, name: str, version: RouterOSVersion, family: str) -> Path:
        """The cached path of a verified package, fetched first if need be."""
        if not is_package_name(name):
            raise UsageError(f"'{name}' is not a RouterOS package name (lower-case letters, "
                             "digits and '-'): fix --package or packages=")
        remote = package_path(name, version, family)
        path = self._local(remote)
        with self._locked(path):
            if self._usable(path, lambda p: self._verify_package(p, name, version, family)):
                return path
            if version.major < 7 and name != "routeros":
                # v6 extras are published only inside all_packages-<arch>-<ver>.zip
                self._unpack_all_packages(version, family)
                if path.exists():
                    return path
                raise NotOnMirror(f"{name} {version} for {family} is not in "
                                  f"{self._source(all_packages_path(version, family))}")
            self._fetch(remote, path,
                        lambda p: self._verify_package(p, name, version, family))
        return path

    def all_packages(self, version: RouterOSVersion, family: str) -> list[Path]:
        """Every package of ``all_packages-<family>-<version>.zip``, verified one by one."""
        return self._unpack_all_packages(version, family)

    def netinstall(self, version: RouterOSVersion) -> Path:
        """``netinstall-<version>.zip`` (it holds netinstall.exe and its boot images)."""
        remote = netinstall_path(version, "zip")
        path = self._local(remote)
        with self._locked(path):
            if not self._usable(path, _verify_netinstall_zip):
                self._fetch(remote, path, _verify_netinstall_zip)
        return path

    # ------------------------------------------------------------ the cache

    def entries(self) -> list[CacheEntry]:
        out = []
        for folder in sorted((self.root / "routeros").glob("*")):
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if path.suffix not in (".part", ".lock", ".url") \
                        and not path.name.startswith(".") \
                        and path.is_file():
                    out.append(CacheEntry(folder.name, path, path.stat().st_size))
        return out

    def prune(self, keep: set[str]) -> list[Path]:
        """Remove the folders of every version not in ``keep``."""
        removed = []
        for folder in sorted((self.root / "routeros").glob("*")):
            if folder.name in keep or not folder.is_dir():
                continue
            if folder.is_symlink():
                folder.unlink()  # the link goes; what it points to is not the cache's
            else:
                shutil.rmtree(folder)
            removed.append(folder)
        return removed

    def has_version(self, version: RouterOSVersion) -> bool:
        folder = self.root / "routeros" / str(version)
        return folder.is_dir() and any(p.suffix == ".npk" for p in folder.iterdir())

    # ------------------------------------------------------------ internals

    def _local(self, remote: str) -> Path:
        """Where ``remote`` (routeros/<version>/<file>) is cached: always inside the
        cache, whatever a name read from a mirror or a package header said."""
        root = self.root.resolve()
        path = root.joinpath(*PurePosixPath(remote).parts).resolve()
        if not path.is_relative_to(root) or path == root:
            raise PackageError(f"{remote} would be written outside the cache {root}: "
                               "refused (a hostile mirror or package?)")
        return path

    def _source(self, remote: str) -> str:
        return self.mirror.url(remote) if self.mirror is not None else remote

    def _usable(self, path: Path, verify: Callable[[Path], None]) -> bool:
        if self.refresh and path not in self._refreshed:
            self._refreshed.add(path)
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".part").unlink(missing_ok=True)
            return False
        if not path.exists():
            return False
        try:
            verify(path)
        except PackageError as exc:
            log.warning("cached %s is broken (%s): deleted, fetching it again", path, exc)
            path.unlink(missing_ok=True)
            return False
        return True

    def _fetch(self, remote: str, path: Path, verify: Callable[[Path], None]) -> None:
        if self.mirror is None:
            raise FetchError(f"{path.name} is not in the cache {self.root} and no mirror is "
                             "set: give --mirror")
        part = path.with_name(path.name + ".part")
        origin = path.with_name(path.name + ".part.url")  # where the partial came from
        if part.is_symlink():
            part.unlink()  # planted: a download never follows a link out of the cache
        url = self.mirror.url(remote)
        if part.exists() and (not origin.exists() or origin.read_text() != url):
            part.unlink()  # a partial of another mirror's file: never resumed into this one
        origin.write_text(url)
        log.info("fetching %s", url)
        started = time.monotonic()
        try:
            self.mirror.download(remote, part, self.progress(path.name))
        except FetchError as exc:
            if not exc.resumable:  # an error page, an endless body: nothing worth keeping
                part.unlink(missing_ok=True)
                origin.unlink(missing_ok=True)
            raise
        origin.unlink(missing_ok=True)
        try:
            verify(part)
        except PackageError as exc:
            part.unlink(missing_ok=True)
            raise PackageError(f"{url} refused and deleted: {exc}") from None
        os.replace(part, path)
        _sync_folder(path.parent)
        log.info("fetched %s (%d bytes, %.1f s)", path.name, path.stat().st_size,
                 time.monotonic() - started)

    def _verify_package(self, path: Path, name: str, version: RouterOSVersion,
                        family: str) -> None:
        check_identity(read_package(path, path.name), name, version, family, path.name)

    def _unpack_all_packages(self, version: RouterOSVersion, family: str) -> list[Path]:
        remote = all_packages_path(version, family)
        path = self._local(remote)
        with self._locked(path):
            if not self._usable(path, _verify_zip):
                self._fetch(remote, path, _verify_zip)
            out = []
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    if not member.filename.lower().endswith(".npk") or member.is_dir():
                        continue
                    if member.file_size > MAX_MEMBER:
                        raise PackageError(f"{path.name}: {member.filename} is too large")
                    data = archive.read(member)
                    label = f"{path.name}:{member.filename}"
                    package = read_package(io.BytesIO(data), label)
                    name = canonical_name(package)
                    if not is_package_name(name):
                        raise PackageError(f"{label} calls itself {name!r}: not a RouterOS "
                                           "package name; nothing of it is written")
                    check_identity(package, name, version, family, label)
                    target = self._local(package_path(name, version, family))
                    if not target.exists():
                        _write_atomic(target, data)
                    out.append(target)
        return out

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        with self._locks_lock:
            lock = self._locks.setdefault(path, threading.Lock())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        except OSError as exc:
            raise FetchError(f"cannot write the cache {self.root}: {exc.strerror}: give "
                             "--cache DIR (or XDG_CACHE_HOME) a writable folder") from None
        with handle:
            if not lock.acquire(blocking=self.wait_for_others):
                raise DownloadUnderWay(f"{path.name} is being fetched for another board")
            try:
                try:  # another process fetching the same file
                    fcntl.flock(handle, fcntl.LOCK_EX | (0 if self.wait_for_others
                                                         else fcntl.LOCK_NB))
                except BlockingIOError:
                    raise DownloadUnderWay(f"{path.name} is being fetched by another "
                                           "process") from None
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                lock.release()


MAX_UNPACKED = 1024 * 1024 * 1024  # MikroTik's zips unpack to tens of megabytes
MAX_RATIO = 20  # packages and boot images are compressed already: they barely shrink


def _verify_zip(path: Path) -> None:
    """A complete archive whose members are what they say, and no bomb: sizes and
    ratios are checked from the directory before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(member.file_size for member in members)
            if total > MAX_UNPACKED:
                raise PackageError(f"{path.name} would unpack to {total} bytes: not "
                                   "MikroTik's archive")
            for member in members:
                ratio = member.file_size // max(member.compress_size, 1)
                if member.file_size > (1 << 20) and ratio > MAX_RATIO:
                    raise PackageError(
                        f"{path.name}: {member.filename} would unpack {ratio} times larger "
                        "than it is stored: a zip bomb, not MikroTik's archive")
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PackageError(f"{path.name} is not a complete zip archive ({exc})") from None
    if broken is not None:
        raise PackageError(f"{path.name} is damaged: {broken} fails its CRC check")


def _verify_netinstall_zip(path: Path) -> None:
    _verify_zip(path)
    with zipfile.ZipFile(path) as archive:
        names = [PurePosixPath(n).name.lower() for n in archive.namelist()]
    if not any(n.startswith("netinstall") and n.endswith(".exe") for n in names):
        raise PackageError(f"{path.name} holds no netinstall*.exe: not MikroTik's "
                           "netinstall zip")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
