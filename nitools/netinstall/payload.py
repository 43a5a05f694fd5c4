"""Turn a firmware or config source into bytes, completely, before any offer.

A source is a path, an http(s) URL (downloaded in full with requests), a file
object, or bytes. A board waits at most 6-9 s for each file (§3.6), so nothing
is ever streamed during an install: a slow or failed download must fail here,
while the board is still untouched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import requests

from nitools.errors import SourceError

MAX_SOURCE_BYTES = 128 * 1024 * 1024  # above the protocol's ~90 MiB session limit
HTTP_TIMEOUT = (10.0, 60.0)  # connect, between bytes
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Resolved:
    name: str  # base name from the source, may be empty
    data: bytes
    origin: str  # where it came from, for messages

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def describe(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", None) or type(source).__name__


def resolve(source: Any) -> Resolved:
    """Read a source fully; raise SourceError with what to do when it fails."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Resolved("", bytes(source), "bytes from the plugin")
    if is_url(source):
        return _download(source)
    if isinstance(source, (str, os.PathLike)):
        return _read_path(os.fspath(source))
    if hasattr(source, "read"):
        return _read_file_object(source)
    raise SourceError(f"cannot use {source!r} as a file: give a path, an http(s) URL "
                      "or a file object")


def _read_path(path: str) -> Resolved:
    try:
        size = os.path.getsize(path)
        if size > MAX_SOURCE_BYTES:
            raise SourceError(f"{path} is {size} bytes, too large for one netinstall session")
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise SourceError(f"file not found: {path}: fix the path in the config") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory: name a file") from None
    except PermissionError:
        raise SourceError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    return Resolved(os.path.basename(path), data, path)


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


def _download(url: str) -> Resolved:
    try:
        with requests.get(url, stream=True, timeout=HTTP_TIMEOUT) as response:
            if response.status_code >= 400:
                raise SourceError(f"download of {url} failed: HTTP {response.status_code} "
                                  f"{response.reason}: check the URL and the server")
            expected = response.headers.get("Content-Length")
            body = bytearray()
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > MAX_SOURCE_BYTES:
                    raise SourceError(f"{url} is too large for one netinstall session")
    except requests.RequestException as exc:
        raise SourceError(f"download of {url} failed: {_short_reason(exc)}: "
                          "check the URL and that the server is reachable") from exc
    if expected is not None and expected.isdigit() and int(expected) != len(body):
        raise SourceError(f"download of {url} was cut off: got {len(body)} of {expected} bytes")
    name = PurePosixPath(unquote(urlparse(url).path)).name
    return Resolved(name, bytes(body), url)


def _short_reason(exc: Exception) -> str:
    text = str(exc.__context__ or exc) or type(exc).__name__
    return text.splitlines()[0][:160]
