"""images/sdcard/firmware.py: trixie's u-boot-sifive, fetched with a private apt state."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.card_fixtures import FIRMWARE_SCRIPT

APT_CONFIG = Path("/etc/apt")


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_both_boards_get_spl_and_fit(sifive_firmware: Path) -> None:
    assert sifive_firmware.name.startswith("u-boot-sifive_2")
    for board in ("unleashed", "unmatched"):
        spl = (sifive_firmware / board / "u-boot-spl.bin").read_bytes()
        fit = (sifive_firmware / board / "u-boot.itb").read_bytes()
        assert b"U-Boot SPL 20" in spl
        assert fit[:4] == b"\xd0\x0d\xfe\xed"  # a FIT is a flattened device tree
    # Each board's firmware is its own build, not a copy.
    assert (sifive_firmware / "unleashed" / "u-boot.itb").read_bytes() != (
        sifive_firmware / "unmatched" / "u-boot.itb"
    ).read_bytes()


def test_cached_fetch_needs_no_mirror_and_leaves_apt_alone(sifive_firmware: Path, tmp_path: Path) -> None:
    before = _tree_digest(APT_CONFIG)
    # A second fetch finds the entry: it runs no apt-get (PATH without apt proves it).
    proc = subprocess.run(
        [sys.executable, str(FIRMWARE_SCRIPT), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == sifive_firmware
    assert _tree_digest(APT_CONFIG) == before
    assert (FIRMWARE_SCRIPT.parent / "out-firmware").resolve() == sifive_firmware.resolve()
