"""The one streaming HTTP download: the mirror's packages and the payload URLs a
plugin or an ini file names both go through ``copy_body``.

A body is read with ``read1`` (whatever one read brings), so a stop, the whole-download
deadline and the size cap are seen between the bytes of a server that drips them,
not only when a read times out.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
import urllib3

from nitools.errors import SourceError

CHUNK = 1 << 20
Progress = Callable[[int, "int | None"], None]  # (bytes so far, total if known)
_USER_INFO = re.compile(r"(?i)\b(https?://)[^/?#@\s]*@")
_QUERY_PAIR = re.compile(r"([?&][^=&\s#]+=)[^&\s#]*")


T = TypeVar("T")


def within(seconds: float, call: Callable[[], T], late: Callable[[], BaseException]) -> T:
    """``call()`` in a thread of its own, waited for ``seconds`` at most, else ``late()``
    is raised: a server that drips its headers (each byte before the read timeout) cannot
    hold the caller for ever. The thread ends on its own socket timeouts."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="within-deadline", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise late()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def redact(text: str) -> str:
    """``text`` with every URL's user info and query values hidden: an inventory or
    payload URL may carry a password or a token, and what a station logs, journals and
    serves is read by many (``https://user:pw@h/x?token=t`` -> ``https://***@h/x?token=***``)."""
    text = _USER_INFO.sub(r"\1***@", text)
    if "?" not in text:
        return text
    return re.sub(r"\bhttps?://[^\s#]*", lambda m: _QUERY_PAIR.sub(r"\1***", m.group()), text,
                  flags=re.IGNORECASE)


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
            raise _resumable(error(f"download of {url} stopped: the station is stopping"))
        if time.monotonic() > deadline:
            raise _resumable(error(f"download of {url} took longer than {seconds:g} s "
                                   f"({done} bytes so far): check the server"))


def _resumable(exc: SourceError) -> SourceError:
    exc.resumable = True  # what came so far is good: a later try continues from it
    return exc


def reason(exc: BaseException) -> str:
    """A network failure in a few words: the innermost cause ("[Errno 111] Connection
    refused"), without the libraries' object descriptions, cut at a word if long."""
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError)) or \
            isinstance(exc.__context__, urllib3.exceptions.TimeoutError):
        return "the server stopped answering (timeout)"
    inner = _innermost(exc)
    text = (str(inner) or type(inner).__name__).splitlines()[0]
    # urllib3 puts its connection first: "HTTPConnection(host=..., port=80): Failed ..."
    text = _PREFIX.sub("", text).strip()
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " ..."
    return text


_PREFIX = re.compile(r"^(?:<[^>]*>|\w+\([^)]*\)): ")


def _innermost(exc: BaseException) -> BaseException:
    """Follow what requests and urllib3 wrap (args[0], .reason, the context)."""
    seen = {id(exc)}
    while True:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args and \
                isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if not isinstance(inner, BaseException):
            inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner
