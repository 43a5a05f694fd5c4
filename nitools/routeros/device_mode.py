"""``--device-mode``: the mode script that lets a board run containers without anyone
pressing its reset button (docs/inventory.md, "device-mode").

RouterOS 7.22 and newer run a mode script (``mode.scr``) once, before the first-boot
script, with the right to change ``/system/device-mode``; older versions need the
button. ``auto`` writes the line when the packages need it: ``container`` (and
``zerotier``) only work in a device-mode that allows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nitools.errors import PackageError, UsageError
from nitools.routeros.version import RouterOSVersion, parse_version

DEVICE_MODE_SINCE = parse_version("7.22")
OFF, AUTO = "off", "auto"
# Packages whose features a default device-mode turns off, and the setting for each.
_NEEDS_MODE = {"container": "container=yes", "zerotier": "zerotier=yes"}
_SETTING = re.compile(r"[a-z][a-z0-9-]*=[a-z0-9-]+\Z")  # mode=advanced, container=yes


def parse_device_mode(text: str | None) -> str:
    """``off``, ``auto`` or the settings of an explicit line (``mode=advanced container=yes``),
    each ``name=value`` of letters, digits and dashes (nothing else reaches the script)."""
    value = (text or OFF).strip()
    if value in (OFF, AUTO):
        return value
    settings = value.split()
    bad = [item for item in settings if not _SETTING.match(item)]
    if not settings or bad:
        raise UsageError(f"--device-mode {value!r}: give off, auto, or settings such as "
                         "\"mode=advanced container=yes\" (name=value, letters and digits)")
    return " ".join(settings)


def mode_script_for(setting: str, version: RouterOSVersion, packages: Iterable[str]
                    ) -> bytes | None:
    """The mode script for a board getting ``packages`` of RouterOS ``version``, or None.
    A version that cannot take it is a PackageError: the board is refused, not installed
    without the device-mode its packages need."""
    if setting == OFF:
        return None
    if setting == AUTO:
        needs = [_NEEDS_MODE[name] for name in sorted(set(packages)) if name in _NEEDS_MODE]
        if not needs:
            return None
        line = "mode=advanced " + " ".join(needs)
        why = f"the {' and '.join(n.split('=')[0] for n in needs)} package"
    else:
        line, why = setting, "--device-mode"
    if version < DEVICE_MODE_SINCE:
        raise PackageError(f"{why} needs /system/device-mode changed, which a mode script can "
                           f"do from RouterOS {DEVICE_MODE_SINCE} on; this board gets {version}: "
                           "install 7.22 or newer, or drop --device-mode and press the "
                           "board's button")
    return f"/system/device-mode update {line}\n".encode()
