"""End to end through ``python -m harness.emulator``: U-Boot on both boards, -bios none SMP,
console modes. These boot real firmware, so they are marked slow."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from pexpect import fdpexpect

from harness.emulator.host_env import interpreter_env

from .conftest import PROGRAMS, link, needs_gcc

ROOT = Path(__file__).resolve().parents[2]
FW_JUMP = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")

needs_firmware = pytest.mark.skipif(
    not (FW_JUMP.exists() and UBOOT.exists()), reason="Debian opensbi/u-boot-qemu not installed"
)


def spawn(*args: str, timeout: float = 120, python: str = sys.executable) -> pexpect.spawn:
    env = interpreter_env(dict(os.environ, PYTHONPATH=str(ROOT)))
    child = pexpect.spawn(python, ["-m", "harness.emulator", *args], env=env, cwd=str(ROOT), timeout=timeout)
    return child


def build(tmp_path: Path, name: str) -> Path:
    return link(PROGRAMS / f"{name}.S", tmp_path / f"{name}.elf", "rv64imac_zicsr")


@pytest.mark.slow
@needs_firmware
@pytest.mark.parametrize("board", ["virt", "unmatched"])
def test_uboot_prompt_commands_and_poweroff(board: str, emulator_python: str) -> None:
    args = ("-M", board, "-m", "256M", "-nographic", "-bios", str(FW_JUMP), "-kernel", str(UBOOT))
    child = spawn(*args, python=emulator_python)
    try:
        child.expect("OpenSBI v")
        child.expect("U-Boot 2023.01")
        child.expect("Hit any key to stop autoboot")
        child.send("\r")
        child.expect("=> ")
        child.send("echo marker42\r")
        child.expect(r"marker42\r+\n")
        child.expect("=> ")
        child.send("version\r")
        child.expect("U-Boot 2023.01")
        child.expect("=> ")
        child.send("poweroff\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


@pytest.mark.slow
@needs_gcc
def test_bios_none_smp_matches_qemu(tmp_path: Path) -> None:
    elf = build(tmp_path, "smp_hello")
    args = ["-M", "virt", "-smp", "2", "-bios", "none", "-kernel", str(elf), "-nographic"]
    ours = subprocess.run(
        [sys.executable, "-m", "harness.emulator", *args],
        capture_output=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
        env=dict(os.environ, HARTBEAT_EMU_STATS="1"),
    )
    assert ours.returncode == 0
    assert ours.stdout == b"hart 0 ticket 0\nhart 1 ticket 1\n"
    assert re.search(rb"hartbeat-emu: \d+ instructions in [\d.]+ s \([\d.]+ MIPS\)", ours.stderr), ours.stderr
    if shutil.which("qemu-system-riscv64"):
        qemu = subprocess.run(
            ["qemu-system-riscv64", *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=False
        )
        # QEMU runs harts on parallel threads, so which hart gets which ticket varies there.
        assert qemu.returncode == ours.returncode
        shape = re.compile(rb"hart [01] ticket [01]")
        assert sorted(line[:5] for line in qemu.stdout.splitlines()) == [b"hart ", b"hart "]
        assert all(shape.fullmatch(line) for line in qemu.stdout.splitlines())


@pytest.mark.slow
@needs_gcc
def test_stdio_tty_passes_ctrl_c_and_cr_to_the_guest(tmp_path: Path) -> None:
    child = spawn("-M", "virt", "-bios", "none", "-kernel", str(build(tmp_path, "echo")), "-nographic", timeout=30)
    try:
        child.expect("ready")
        child.send("\x03")
        child.expect("got 03")
        child.send("\r")
        child.expect("got 0d")
        child.send("q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


@pytest.mark.slow
@needs_gcc
def test_sigterm_ends_the_emulator(tmp_path: Path) -> None:
    child = spawn("-M", "virt", "-bios", "none", "-kernel", str(build(tmp_path, "echo")), "-nographic", timeout=30)
    try:
        child.expect("ready")
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 128 + signal.SIGTERM


@pytest.mark.slow
@needs_gcc
def test_serial_pty_console(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.emulator",
            "-M",
            "virt",
            "-bios",
            "none",
            "-kernel",
            str(build(tmp_path, "echo")),
            "-serial",
            "pty",
            "-nographic",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        match = re.fullmatch(r"char device redirected to (/dev/pts/\d+) \(label serial0\)\n", line)
        assert match, line
        fd = os.open(match.group(1), os.O_RDWR | os.O_NOCTTY)
        term = fdpexpect.fdspawn(fd, timeout=30)
        term.send("A")
        term.expect("got 41")
        term.send("q")
        assert proc.wait(timeout=30) == 0
        os.close(fd)
    finally:
        proc.kill()
        proc.wait()
