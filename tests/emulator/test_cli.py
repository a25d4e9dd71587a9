"""Command line: option parsing, clean errors, device-tree dump."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.emulator.__main__ import UsageError, parse_size, parse_smp

ROOT = Path(__file__).resolve().parents[2]


def emu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.emulator", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_parse_size_accepts_qemu_suffixes() -> None:
    assert parse_size("256M") == 256 << 20
    assert parse_size("1G") == 1 << 30
    assert parse_size("128") == 128 << 20
    with pytest.raises(UsageError):
        parse_size("lots")
    assert parse_smp("cpus=3,sockets=1") == 3


@pytest.mark.parametrize(
    "args",
    [
        ("-kernel", "/nonexistent/u-boot.bin", "-bios", "none"),
        ("-bios", "/nonexistent/fw.bin"),
        ("-M", "nosuchboard", "-bios", "none", "-kernel", "/dev/null"),
        ("-frobnicate",),
        ("-m", "12Q"),
        ("-serial", "tcp:1234"),
    ],
)
def test_user_errors_are_one_line_with_status_2(args: tuple[str, ...]) -> None:
    proc = emu(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")
@pytest.mark.parametrize(("board", "expect"), [("virt", "ns16550a"), ("unmatched", "sifive,uart0")])
def test_dumpdtb_produces_a_valid_tree(tmp_path: Path, board: str, expect: str) -> None:
    out = tmp_path / "board.dtb"
    proc = emu(
        "-M",
        board,
        "-m",
        "256M",
        "-bios",
        "none",
        "-kernel",
        "/dev/null",
        "-append",
        "console=hvc0 x=1",
        "-dumpdtb",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    dts = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(out)], capture_output=True, text=True, check=True)
    assert expect in dts.stdout
    assert 'bootargs = "console=hvc0 x=1"' in dts.stdout
    assert "timebase-frequency = <0x989680>" in dts.stdout
    assert "sifive,test1" in dts.stdout
    if board == "unmatched":
        assert 'riscv,isa = "rv64imac"' in dts.stdout and 'status = "disabled"' in dts.stdout
