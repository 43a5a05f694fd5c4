"""The one streaming HTTP download: the mirror's packages and the payload URLs a
plugin or an ini file names both go through ``copy_body``.

A body is read with ``read1`` (whatever one read brings), so a stop, the whole-download
deadline and the size cap are seen between the bytes of a server that drips them,
not only when a read times out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests
import urllib3

from nitools.errors import SourceError

CHUNK = 1 << 20
Progress = Callable[[int, "int | None"], None]  # (bytes so far, total if known)


def copy_body(response: requests.Response, url: str, write: Callable[[bytes], object], *,
              limit: int, seconds: float, cancelled: threading.Event,
              error: type[SourceError] = SourceError, start: int = 0,
              total: int | None = None, progress: Progress | None = None) -> int:
    """Copy ``response``'s body to ``write``; returns the bytes done (``start`` counts
    what an earlier, resumed download already has). Raises ``error`` when the body
    grows past ``limit``, takes longer than ``seconds``, or ``cancelled`` is set."""
    deadline = time.monotonic() + seconds
    done = start
    while True:
        chunk = response.raw.read1(CHUNK, decode_content=True)
        if not chunk:
            return done
        write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        if done > limit:
            raise error(f"{url} grew past {limit} bytes: too large")
        if cancelled.is_set():
            raise error(f"download of {url} stopped: the station is stopping")
        if time.monotonic() > deadline:
            raise error(f"download of {url} took longer than {seconds:g} s ({done} bytes so "
                        "far): check the server")


def reason(exc: BaseException) -> str:
    """A network failure in a few words (never the library's whole repr chain)."""
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError)) or \
            isinstance(exc.__context__, urllib3.exceptions.TimeoutError):
        return "the server stopped answering (timeout)"
    text = str(exc.__context__ or exc) or type(exc).__name__
    return text.splitlines()[0][:160]
