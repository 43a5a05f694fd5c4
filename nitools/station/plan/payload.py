"""Turn a firmware or config source into bytes, completely, before any offer.

A source is a path, an http(s) URL (downloaded in full with requests), a file
object, or bytes. A board waits at most 6-9 s for each file (docs/protocol.md §3.6), so nothing
is ever streamed during an install: a slow or failed download must fail here,
while the board is still untouched.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlparse

import requests
import urllib3

from nitools.bounded import Bounded
from nitools.errors import SourceError, UsageError
from nitools.fetch.download import copy_body, reason, redact

# Where a file comes from: a path, an http(s) URL, the bytes themselves, or a file
# object (pyNetinstall's plugins may answer with any of them).
Source = str | os.PathLike[str] | bytes | IO[bytes]
MAX_SOURCE_BYTES = 128 * 1024 * 1024  # above the protocol's ~90 MiB session limit
HTTP_TIMEOUT = (10.0, 60.0)  # connect, between bytes
HTTP_TOTAL = 300.0  # a whole download; a server that drips a byte at a time fails here


@dataclass(frozen=True)
class Resolved:
    name: str  # base name from the source, may be empty
    data: bytes
    origin: str  # where it came from, for messages
    digest: str = ""  # sha256, computed once

    @property
    def sha256(self) -> str:
        if not self.digest:
            object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest())
        return self.digest


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def describe(source: object) -> str:
    """How messages, logs and the journal name a source (a URL's secrets hidden)."""
    if isinstance(source, (str, os.PathLike)):
        return redact(os.fspath(source))
    return getattr(source, "name", None) or type(source).__name__


def resolve(source: Source, download_seconds: float = HTTP_TOTAL,
            cancelled: threading.Event | None = None,
            headers: dict[str, str] | None = None) -> Resolved:
    """Read a source fully; raise SourceError with what to do when it fails. ``headers``:
    sent with a download (an inventory's token)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Resolved("", bytes(source), "bytes from the plugin")
    if is_url(source):
        return _download(source, download_seconds, cancelled or threading.Event(), headers)
    if isinstance(source, (str, os.PathLike)):
        return _read_path(os.fspath(source))
    if hasattr(source, "read"):
        return _read_file_object(source)
    raise SourceError(f"cannot use {source!r} as a file: give a path, an http(s) URL "
                      "or a file object")


def _read_path(path: str) -> Resolved:
    try:
        # Non-blocking open and fstat of what was opened: a FIFO does not hang us, and a
        # FIFO, device or /dev/zero is refused before a byte is read.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(path)
            if not stat.S_ISREG(info.st_mode):
                raise SourceError(f"{path} is not a regular file: name a package or script")
            if info.st_size > MAX_SOURCE_BYTES:
                raise SourceError(f"{path} is {info.st_size} bytes, too large for one "
                                  "netinstall session")
            data = handle.read(MAX_SOURCE_BYTES + 1)
            if len(data) > MAX_SOURCE_BYTES:
                raise SourceError(f"{path} grew past {MAX_SOURCE_BYTES} bytes while read")
    except FileNotFoundError:
        raise SourceError(f"file not found: {path}: fix the path in the config") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory: name a file") from None
    except PermissionError:
        raise SourceError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    return Resolved(os.path.basename(path), data, path)


def read_setting_file(path: str, what: str, limit: int,
                      headers: dict[str, str] | None = None) -> bytes:
    """A file (or URL) the station is told to use at start (an inventory, a template),
    read as carefully as any payload (no FIFO or device, a bounded download): one-line
    errors naming ``what``."""
    try:
        data = resolve(path, download_seconds=60.0, headers=headers).data  # or a URL
    except SourceError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {describe(path)} is larger than {limit} bytes")
    return data


def _read_file_object(handle: Any) -> Resolved:
    origin = describe(handle)
    try:
        data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {origin}: {exc}") from exc
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"{origin} is too large for one netinstall session")
    name = getattr(handle, "name", "")
    return Resolved(os.path.basename(name) if isinstance(name, str) else "", bytes(data), origin)


def _download(url: str, seconds: float, cancelled: threading.Event,
              headers: dict[str, str] | None = None) -> Resolved:
    shown = redact(url)  # the URL may carry a password or a token
    body = bytearray()
    try:
        with requests.get(url, stream=True, timeout=HTTP_TIMEOUT,
                          headers=headers) as response:
            if response.status_code >= 400:
                raise SourceError(f"download of {shown} failed: HTTP {response.status_code} "
                                  f"{response.reason}: check the URL and the server")
            expected = response.headers.get("Content-Length")
            copy_body(response, shown, body.extend, limit=MAX_SOURCE_BYTES, seconds=seconds,
                      cancelled=cancelled)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise SourceError(f"download of {shown} failed: {redact(reason(exc))}: "
                          "check the URL and that the server is reachable") from exc
    if expected is not None and expected.isdigit() and int(expected) != len(body):
        raise SourceError(f"download of {shown} was cut off: got {len(body)} of {expected} "
                          "bytes")
    name = PurePosixPath(unquote(urlparse(url).path)).name
    return Resolved(name, bytes(body), shown)


class PayloadCache:
    """Resolve each distinct source once and share its bytes between boards.

    Paths are keyed by (path, size, mtime), so an edited file is read again; URLs are
    reused for ``url_ttl`` seconds; every result is also interned by content, so
    32 boards flashing one 16 MiB package hold one copy. Thread-safe: boards are
    prepared in worker threads, and a source two of them ask for at once is
    fetched once while the other waits.
    """

    def __init__(self, url_ttl: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 64, max_bytes: int = 512 * 1024 * 1024,
                 download_seconds: float = HTTP_TOTAL) -> None:
        self.url_ttl = url_ttl
        self.clock = clock
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # distinct contents kept for sharing, oldest dropped
        self.download_seconds = download_seconds
        self.cancelled = threading.Event()  # set by cancel(): downloads stop
        self.resolutions = 0  # how many sources were actually read or downloaded
        self._lock = threading.Lock()
        self._entries: Bounded[tuple[Any, ...], tuple[float, Future[Resolved]]] = \
            Bounded(max_entries)
        self._by_content: OrderedDict[str, bytes] = OrderedDict()
        self._content_bytes = 0
        self._derived: Bounded[tuple[str, str], Any] = Bounded(4 * max_entries)

    def cancel(self) -> None:
        """The station stops: downloads in progress give up at their next read."""
        self.cancelled.set()

    @property
    def held_bytes(self) -> int:
        return self._content_bytes

    def _key(self, source: Source) -> tuple[Any, ...] | None:
        if is_url(source):
            return ("url", source)
        if isinstance(source, (str, os.PathLike)):
            path = os.path.abspath(os.fspath(source))
            try:
                info = os.stat(path)
            except OSError:
                return None  # let resolve() report it
            return ("path", path, info.st_size, info.st_mtime_ns)
        return None  # file objects and bytes are read every time

    def resolve(self, source: Source) -> Resolved:
        key = self._key(source)
        if key is None:
            return self._intern(self._count(self._read(source)))
        with self._lock:
            entry = self._entries.get(key)
            fresh = entry is not None and (key[0] != "url" or
                                           self.clock() - entry[0] < self.url_ttl)
            if fresh:
                assert entry is not None
                future = entry[1]
                owner = False
            else:
                future = Future()
                self._entries.put(key, (self.clock(), future))
                owner = True
        if owner:
            try:
                future.set_result(self._intern(self._count(self._read(source))))
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._entries.pop(key, None)  # failures are not cached
        return future.result()

    def _read(self, source: Source) -> Resolved:
        return resolve(source, self.download_seconds, self.cancelled)

    def derived(self, resolved: Resolved, kind: str, compute: Callable[[bytes], Any]) -> Any:
        """A value computed once per content (e.g. the parsed package)."""
        key = (resolved.sha256, kind)
        with self._lock:
            if key in self._derived:
                self._derived.touch(key)
                return self._derived[key]
        value = compute(resolved.data)
        with self._lock:
            self._derived.put(key, value)
        return value

    def _count(self, resolved: Resolved) -> Resolved:
        with self._lock:
            self.resolutions += 1
        return resolved

    def _intern(self, resolved: Resolved) -> Resolved:
        digest = resolved.sha256
        with self._lock:
            shared = self._by_content.get(digest)
            if shared is None:
                shared = self._by_content[digest] = resolved.data
                self._content_bytes += len(shared)
                # Bounded: the oldest contents go (sessions using them keep their bytes).
                while self._content_bytes > self.max_bytes and len(self._by_content) > 1:
                    _, dropped = self._by_content.popitem(last=False)
                    self._content_bytes -= len(dropped)
            else:
                self._by_content.move_to_end(digest)
        if shared is resolved.data:
            return resolved
        return Resolved(resolved.name, shared, resolved.origin, digest)
