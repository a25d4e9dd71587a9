"""An installed wheel: it carries the board profiles and testplans, the licence and the version."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_wheel_finds_the_boards_and_testplans_by_name(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("hartbeat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith("licenses/LICENSE") for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert f"Version: {harness.__version__}" in metadata and "License-Expression: MIT" in metadata

    prefix = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
    python = prefix / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The dependencies come from this environment; the harness itself only from the wheel (its
    # editable install here is not on PYTHONPATH), run from a folder with no boards/ of its own.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    script = (
        "import harness.model.board as b; "
        "print(b.resolve('qemu-virt', 'boards')); print(b.resolve('uboot-smoke', 'testplans')); print(b.__file__)"
    )
    out = subprocess.run(
        [str(python), "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    share = prefix / "share" / "hartbeat"
    assert out[0] == str(share / "boards" / "qemu-virt.toml")
    assert out[1] == str(share / "testplans" / "uboot-smoke.toml")
    assert out[2].startswith(str(prefix))
