"""A mirror with MikroTik's download layout, made of synthetic packages, served by a
real HTTP server on 127.0.0.1 that honours Range requests and can misbehave:
cut a file short and close, or stall after some bytes."""

from __future__ import annotations

import contextlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from nitools.emulation.synthetic import build_npk
from tests.helpers import REPO

NETINSTALL_EXE = REPO / "tests" / "fixtures" / "netinstall" / "netinstall64-7.16.1.exe"
CHANNELS = {"stable": "7.16.1", "testing": "7.17rc2", "long-term": "7.15.3"}
ARCHES = ("arm", "arm64", "mipsbe")
EXTRAS = ("container", "wifi-qcom")


def package_bytes(name: str, version: str, arch: str) -> bytes:
    seed = sum(map(ord, f"{name}{version}{arch}"))
    size = 150_000 if name == "system" else 40_000
    requires = None if name == "system" else ("system", version)
    return build_npk(name, version, arch, size=size, seed=seed, requires=requires)


def build_mirror(root: Path) -> Path:
    """``root/routeros/...`` as MikroTik lays it out, for CHANNELS' versions and ARCHES.

    Traps: 7.16.1's ``mmips`` file holds an arm package (a wrong-arch file under a right
    name); its ``smips`` file is cut in half on the server (complete over HTTP)."""
    base = root / "routeros"
    base.mkdir(parents=True)
    for channel, version in CHANNELS.items():
        (base / f"NEWESTa7.{channel}").write_text(f"{version} 1730000000\n")
        folder = base / version
        folder.mkdir()
        for arch in ARCHES:
            (folder / f"routeros-{version}-{arch}.npk").write_bytes(
                package_bytes("system", version, arch))
            members = {f"{extra}-{version}-{arch}.npk": package_bytes(extra, version, arch)
                       for extra in EXTRAS}
            for name, data in members.items():
                (folder / name).write_bytes(data)
            with zipfile.ZipFile(folder / f"all_packages-{arch}-{version}.zip", "w") as z:
                for name, data in members.items():
                    z.writestr(name, data)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("netinstall64.exe", NETINSTALL_EXE.read_bytes())
        (folder / f"netinstall-{version}.zip").write_bytes(buffer.getvalue())
    stable = base / CHANNELS["stable"]
    (stable / "routeros-7.16.1-mmips.npk").write_bytes(package_bytes("system", "7.16.1", "arm"))
    whole = package_bytes("system", "7.16.1", "smips")
    (stable / "routeros-7.16.1-smips.npk").write_bytes(whole[: len(whole) // 2])
    return root


class MirrorServer:
    """Serves a folder over HTTP with Range support; ``cut`` and ``stall`` map a URL
    path to the byte count after which the server closes or goes silent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cut: dict[str, int] = {}
        self.stall: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.released = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                target = (server.root / self.path.lstrip("/")).resolve()
                there = self.path == "/" or (server.root.resolve() in target.parents
                                             and target.exists())
                self.send_response(200 if there else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                target = (server.root / self.path.lstrip("/")).resolve()
                if server.root.resolve() not in target.parents or not target.is_file():
                    self.send_error(404)
                    return
                data = target.read_bytes()
                start = 0
                wanted = self.headers.get("Range", "")
                if wanted.startswith("bytes=") and wanted.endswith("-"):
                    start = int(wanted[6:-1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.cut:
                    self.wfile.write(body[: server.cut.pop(self.path)])
                    self.close_connection = True
                    return
                if self.path in server.stall:
                    self.wfile.write(body[: server.stall[self.path]])
                    self.wfile.flush()
                    server.released.wait(30)  # silent until the test ends
                    return
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def ranges(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]

    @contextlib.contextmanager
    def running(self) -> Iterator[MirrorServer]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.released.set()
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


@contextlib.contextmanager
def mirror(root: Path) -> Iterator[MirrorServer]:
    build_mirror(root)
    server = MirrorServer(root)
    with server.running():
        yield server


def main() -> None:
    """``python -m tests.mirror_server ROOT``: build a mirror in ROOT and serve it on
    127.0.0.1 until killed; the first line printed is its URL (for lab namespaces)."""
    import sys

    root = Path(sys.argv[1])
    build_mirror(root)
    server = MirrorServer(root)
    print(server.url, flush=True)
    server.server.serve_forever()


if __name__ == "__main__":
    main()
