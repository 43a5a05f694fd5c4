"""MikroTik's download layout, and reading files from a mirror of it.

A mirror is an http(s) base URL (default MikroTik's upgrade server) or, for
air-gapped sites, a local folder with the same layout. The layout (docs/fetch.md
has the sources):

* ``routeros/NEWESTa7.<channel>`` (v7) and ``routeros/NEWEST6.<channel>`` (v6):
  the channel's newest version as ``<version> <unix time>``;
* ``routeros/<ver>/routeros-<ver>-<arch>.npk`` and ``<pkg>-<ver>-<arch>.npk`` (v7;
  x86 files have no ``-<arch>``), ``routeros/<ver>/routeros-<arch>-<ver>.npk`` (v6);
* ``routeros/<ver>/all_packages-<arch>-<ver>.zip``, ``netinstall-<ver>.zip``,
  ``netinstall-<ver>.tar.gz``.

File names are only where to look: what a file is, is decided by reading it.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
import urllib3

from nitools.errors import SourceError, UsageError
from nitools.fetch.download import Progress, copy_body, reason, within
from nitools.routeros.version import RouterOSVersion, parse_version

DEFAULT_MIRROR = "https://upgrade.mikrotik.com"
CHANNELS = ("stable", "testing", "long-term", "development")
MAX_DOWNLOAD = 1024 * 1024 * 1024  # a hostile mirror must not fill the disk
CONNECT_TIMEOUT = 10.0



class FetchError(SourceError):
    """A file could not be fetched from the mirror."""


class NotOnMirror(FetchError):
    """The mirror answered, and it has no such file (HTTP 404 / no such path)."""


# ------------------------------------------------------------------ layout


def channel_path(channel: str, v6: bool = False) -> str:
    return f"routeros/NEWEST{'6' if v6 else 'a7'}.{channel}"


def package_path(name: str, version: RouterOSVersion, family: str) -> str:
    """Where a package lies; ``name`` is ``routeros`` for the system package."""
    if version.major >= 7:
        suffix = "" if family == "x86" else f"-{family}"
        return f"routeros/{version}/{name}-{version}{suffix}.npk"
    return f"routeros/{version}/{name}-{family}-{version}.npk"


def all_packages_path(version: RouterOSVersion, family: str) -> str:
    return f"routeros/{version}/all_packages-{family}-{version}.zip"


def netinstall_path(version: RouterOSVersion, kind: str = "zip") -> str:
    return f"routeros/{version}/netinstall-{version}.{kind}"


def parse_channel_answer(text: str, source: str) -> RouterOSVersion:
    """``7.16.1 1730000000`` -> 7.16.1; anything else is an error naming the source."""
    words = text.split()
    if not words or len(text) > 200:
        raise FetchError(f"{source} does not hold a version: is the mirror right?")
    try:
        return parse_version(words[0])
    except UsageError:
        raise FetchError(f"{source} does not hold a version ({words[0][:40]!r}): is the "
                         "mirror right?") from None


# ------------------------------------------------------------------ transport


def is_remote(base: str) -> bool:
    return base.lower().startswith(("http://", "https://"))


class Mirror:
    """Reads files of MikroTik's layout from a base URL or folder."""

    def __init__(self, base: str = DEFAULT_MIRROR, read_timeout: float = 30.0,
                 total_timeout: float = 300.0) -> None:
        base = base.strip()
        if base.lower().startswith("file://"):
            base = unquote(urlparse(base).path)
        if not is_remote(base) and not os.path.isdir(base):
            raise FetchError(f"mirror {base} is neither an http(s) URL nor a folder: give "
                             "--mirror URL or the folder of a local copy")
        self.base = base.rstrip("/")
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.cancelled = threading.Event()
        self._session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base}/{path}" if is_remote(self.base) else os.path.join(self.base, path)

    def reachable(self) -> bool:
        """Any answer from the server counts (a 404 too); a folder must exist."""
        if not is_remote(self.base):
            return os.path.isdir(self.base)
        try:
            self._session.head(self.base + "/", timeout=(CONNECT_TIMEOUT, self.read_timeout),
                               allow_redirects=False).close()
        except (requests.RequestException, OSError):
            return False
        return True

    def has(self, path: str) -> bool | None:
        """Whether the mirror holds ``path`` (None: it could not be told)."""
        if not is_remote(self.base):
            return os.path.isfile(self.url(path))
        try:
            response = within(self.read_timeout, lambda: self._session.head(
                self.url(path), allow_redirects=True,
                timeout=(CONNECT_TIMEOUT, self.read_timeout)), TimeoutError)
            response.close()
        except (requests.RequestException, OSError):  # TimeoutError is an OSError
            return None
        if response.status_code == 404:
            return False
        return True if response.status_code < 400 else None

    def read_text(self, path: str, limit: int = 4096) -> str:
        url = self.url(path)
        if not is_remote(self.base):
            try:
                with open(url, "rb") as handle:
                    return handle.read(limit).decode("utf-8", "replace")
            except FileNotFoundError:
                raise NotOnMirror(f"not on the mirror: {url}") from None
            except OSError as exc:
                raise FetchError(f"cannot read {url}: {exc.strerror}") from exc
        def read() -> str:
            with self._session.get(url, timeout=(CONNECT_TIMEOUT, self.read_timeout),
                                   stream=True) as response:
                self._check_status(response, url)
                return response.raw.read(limit, decode_content=True).decode("utf-8", "replace")

        try:  # a few bytes: all of it within the read timeout, headers included
            return within(self.read_timeout, read, lambda: FetchError(
                f"{url} did not answer within {self.read_timeout:g} s: check the mirror "
                "and the network"))
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"cannot reach {url}: {reason(exc)}: check the mirror and "
                             "the network") from exc

    def download(self, path: str, part: Path, progress: Progress | None = None) -> None:
        """Fetch ``path`` into ``part``, continuing a partial download already there."""
        url = self.url(path)
        if not is_remote(self.base):
            try:
                shutil.copyfile(url, part)
            except FileNotFoundError:
                raise NotOnMirror(f"not on the mirror: {url}") from None
            except OSError as exc:
                raise FetchError(f"cannot copy {url}: {exc.strerror}") from exc
            return
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            answer = within(self.read_timeout, lambda: self._session.get(  # the headers
                url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT,
                                                            self.read_timeout)),
                lambda: TimeoutError(f"no answer within {self.read_timeout:g} s"))
            with answer as response:
                if response.status_code == 416 and have:
                    return  # already complete: the caller verifies it
                self._check_status(response, url)
                if response.status_code != 206:
                    have = 0  # the server sent the whole file again
                length = response.headers.get("Content-Length")
                total = have + int(length) if length and length.isdigit() else None
                if total is not None and total > MAX_DOWNLOAD:
                    raise FetchError(f"{url} is {total} bytes: too large for a package")
                with open(part, "ab" if have else "wb") as out:
                    done = copy_body(response, url, out.write, limit=MAX_DOWNLOAD,
                                     seconds=self.total_timeout, cancelled=self.cancelled,
                                     error=FetchError, start=have, total=total,
                                     progress=progress)
                if total is not None and done < total:
                    cut = FetchError(f"download of {url} was cut off at {done} of {total} "
                                     "bytes: run again to resume")
                    cut.resumable = True
                    raise cut
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # "resume" only where there is something to resume from
            started = part.exists() and part.stat().st_size > 0
            failed = FetchError(f"download of {url} failed: {reason(exc)}: " + (
                "run again to resume, or check the mirror" if started else
                "check the mirror's address and this machine's network"))
            failed.resumable = started
            raise failed from exc

    @staticmethod
    def _check_status(response: requests.Response, url: str) -> None:
        if response.status_code == 404:
            raise NotOnMirror(f"not on the mirror (HTTP 404): {url}")
        if response.status_code >= 400:
            raise FetchError(f"{url}: HTTP {response.status_code} {response.reason}: check "
                             "the mirror")
