"""A ``docker-archive`` tar of a root file system, as ``docker save`` writes one and as
RouterOS imports it (``/container add file=nitools.tar``), ``podman load`` too:

    python -m tests.container.docker_archive ROOTFS --arch arm64 --tag nitools:0.1.0 OUT.tar

One layer (the whole root file system, numeric owners, sorted, reproducible times), an
image config with the architecture and variant, and the Containerfile's own settings
(ENV, ENTRYPOINT, VOLUME, HEALTHCHECK), read from it so that both images agree.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shlex
import tarfile
from pathlib import Path
from typing import Any

from tests.container.rootfs import ARCHES, REPO

CONTAINERFILE = REPO / "Containerfile"
EPOCH = 1_700_000_000  # every file's time in the layer: the same tree, the same bytes
_DURATION = re.compile(r"(\d+)(ms|s|m|h)")
_UNITS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def containerfile_settings(text: str) -> dict[str, Any]:
    """ENV, ENTRYPOINT, VOLUME and HEALTHCHECK of the Containerfile, as an image config."""
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()  # continuation lines joined
    env: dict[str, str] = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                   "/sbin:/bin"}
    config: dict[str, Any] = {}
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value.replace("$PATH", env.get("PATH", ""))
        elif word == "ENTRYPOINT":
            config["Entrypoint"] = json.loads(rest)
        elif word == "VOLUME":
            config["Volumes"] = {path: {} for path in json.loads(rest)}
        elif word == "HEALTHCHECK":
            flags, _, command = rest.partition("CMD")
            check: dict[str, Any] = {"Test": ["CMD", *json.loads(command)]}
            for flag in flags.split():
                name, _, value = flag.lstrip("-").partition("=")
                key = {"interval": "Interval", "timeout": "Timeout",
                       "start-period": "StartPeriod"}.get(name)
                match = _DURATION.fullmatch(value)
                if key and match:
                    check[key] = int(match[1]) * _UNITS[match[2]]
            config["Healthcheck"] = check
    # The image's python is the system one: /opt/nitools/bin (the Containerfile's venv)
    # does not exist here, /usr/local/bin/nitools does.
    env["PATH"] = env["PATH"].replace("/opt/nitools/bin:", "")
    config["Env"] = [f"{name}={value}" for name, value in env.items()]
    return config


def layer_tar(rootfs: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for path in sorted(rootfs.rglob("*")):
            name = path.relative_to(rootfs).as_posix()
            if name.endswith(".pyc") or "/__pycache__" in f"/{name}":
                continue  # written at run time if wanted: not worth their size here
            info = layer.gettarinfo(str(path), arcname=name)
            info.mtime = min(info.mtime, EPOCH)
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as handle:
                    layer.addfile(info, handle)
            else:
                layer.addfile(info)
    return buffer.getvalue()


def write_archive(rootfs: Path, arch: str, tag: str, out: Path) -> dict[str, Any]:
    architecture, variant = ARCHES[arch][1]
    layer = layer_tar(rootfs)
    layer_id = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": architecture, "os": "linux",
        "config": containerfile_settings(CONTAINERFILE.read_text()),
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        "history": [{"created_by": "tests/container/rootfs.py (mmdebstrap bookworm + "
                                   "nitools, pure Python)"}],
        "created": "2023-11-14T22:13:20Z",
    }
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": f"{config_id}.json", "RepoTags": [tag],
                 "Layers": [f"{layer_id}/layer.tar"]}]
    members = [(f"{layer_id}/VERSION", b"1.0"), (f"{layer_id}/layer.tar", layer),
               (f"{config_id}.json", config_bytes),
               ("manifest.json", json.dumps(manifest).encode()),
               ("repositories", json.dumps({tag.rsplit(":", 1)[0]:
                                            {tag.rsplit(":", 1)[-1]: layer_id}}).encode())]
    temporary = out.with_name(out.name + ".part")
    with tarfile.open(temporary, "w", format=tarfile.PAX_FORMAT) as archive:
        folder = tarfile.TarInfo(layer_id)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, EPOCH
        archive.addfile(folder)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            archive.addfile(info, io.BytesIO(data))
    temporary.replace(out)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("--arch", required=True, choices=sorted(ARCHES))
    parser.add_argument("--tag", required=True)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    write_archive(args.rootfs, args.arch, args.tag, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
