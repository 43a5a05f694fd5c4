"""Preparing a board: key files, and the files checked before any offer."""

import base64

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.errors import PackageError, UsageError
from nitools.station.plan.prepare import parse_key, prepare_install
from nitools.station.setup.config import InstallDefaults
from tests.helpers import board_request

BOARD = board_request(bytes.fromhex("024e49000001"), software_id="ABCD-EFGH",
                      image_version="7.16.1")
KEY = base64.b64encode(bytes(range(64))).decode()










def test_key_file_forms():
    lines = f"-----BEGIN MIKROTIK SOFTWARE KEY----\n{KEY[:44]}\n{KEY[44:]}\n-----END----\n"
    assert parse_key(lines.encode()) == KEY
    assert parse_key(KEY.encode()) == KEY
    with pytest.raises(UsageError, match="not a MikroTik software key"):
        parse_key(b"-----BEGIN-----\nc2hvcnQ=\n-----END-----\n")










def test_empty_branding_package_is_refused(tmp_path):
    (tmp_path / "routeros.npk").write_bytes(build_npk())
    (tmp_path / "empty.dpk").write_bytes(b"")
    with pytest.raises(PackageError, match=r"branding package .* is empty"):
        prepare_install(type("P", (), {"get_files": lambda self, i: (
            str(tmp_path / "routeros.npk"), None)})(), BOARD,
            InstallDefaults(branding=str(tmp_path / "empty.dpk")))




