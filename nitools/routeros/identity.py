"""The identity a first-boot script gives a board: what it should announce in service
(docs/verify.md)."""

from __future__ import annotations

import re

from nitools.routeros.strings import unescape

# `/system identity set name=...` (also `/system/identity/set`), quoted or a plain word.
_IDENTITY = re.compile(
    rb'^[ \t]*/system[ /]identity[ /]set[ \t]+name=(?:"((?:[^"\\\n]|\\.)*)"|([^\s;"]+))',
    re.MULTILINE)


def scripted_identity(script: bytes | None) -> str | None:
    """The identity a first-boot script sets (its last such line), if any."""
    if not script:
        return None
    found = _IDENTITY.findall(script)
    if not found:
        return None
    quoted, bare = found[-1]
    return unescape(quoted.decode("utf-8", "replace")) if quoted or not bare else \
        bare.decode("utf-8", "replace")
