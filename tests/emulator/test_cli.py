"""Command line: option parsing, clean errors, device-tree dump."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.emulator.cli import UsageError, build_parser, parse_size, parse_smp

from .conftest import build_elf

ROOT = Path(__file__).resolve().parents[2]
# What a run without -control, -jtag, the FU740's SD boot, the block engine and floating point
# leaves unimported (each is imported where its option or instruction first needs it).
OPTIONAL_MODULES = (
    "socket",
    "threading",
    "json",
    "subprocess",
    "shutil",
    "fractions",
    "decimal",
    "harness.emulator.control",
    "harness.emulator.blocks",
    "harness.emulator.translate",
    "harness.emulator.fpu",
    "harness.emulator.fu740",
    "harness.emulator.debug.rbb",
    "harness.emulator.debug.dm",
)
HELLO = r"""
_start:
    li t0, UART
    li t1, 'k'
    sb t1, 0(t0)
    PASS
"""
SPIN = r"""
_start:
    addi t0, t0, 1
    j _start
"""


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


def test_help_is_laid_out_as_argparse_lays_it_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The formatter that finds the width without shutil wraps -h as argparse's own does."""
    monkeypatch.setenv("COLUMNS", "60")
    parser = build_parser()
    ours = parser.format_help()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    assert ours == parser.format_help()
    assert max(len(line) for line in ours.split("\n\n")[0].splitlines()) <= 60
    proc = emu("-h")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m harness.emulator"), proc.stderr


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


def test_a_plain_run_imports_none_of_the_optional_modules(tmp_path: Path) -> None:
    """A run to power-off (through main(), as ``python -m harness.emulator`` runs it) imports no
    module an option left off needs: they cost start-up time (issue 23's U-Boot goal)."""
    elf = build_elf(tmp_path, HELLO, "hello")
    report = (
        "import sys\n"
        "from harness.emulator.cli import main\n"
        f"status = main(['-bios', 'none', '-kernel', {str(elf)!r}])\n"
        "print('\\nmodules:', status, *sorted(sys.modules))\n"
    )
    # The interpreter (PyPy's engine), so the block engine is optional here too; a DTB cache of
    # its own, filled by the first run (a miss runs dtc, which imports subprocess).
    env = dict(os.environ, HARTBEAT_EMU_ENGINE="interp", XDG_CACHE_HOME=str(tmp_path / "cache"))
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", report], capture_output=True, text=True, cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, timeout=60, check=True,
        )  # fmt: skip
    printed, _, report_line = proc.stdout.partition("\nmodules: ")
    assert printed == "k"
    status, *modules = report_line.split()
    assert status == "0"
    assert "harness.emulator.interp" in modules
    assert [m for m in OPTIONAL_MODULES if m in modules] == []


def test_control_and_jtag_options_work_with_their_modules_imported_late(tmp_path: Path) -> None:
    elf = build_elf(tmp_path, SPIN, "spin")
    control = tmp_path / "control.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.emulator", "-bios", "none", "-kernel", str(elf),
         "-control", str(control), "-jtag", "tcp:0"],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        announced = proc.stderr.readline()
        assert announced.startswith("hartbeat-emu: JTAG remote_bitbang on tcp:127.0.0.1:"), announced
        port = int(announced.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as jtag:
            jtag.sendall(b"R")  # read TDO: one '0' or '1' back
            assert jtag.recv(1) in (b"0", b"1")
        deadline = time.monotonic() + 30
        while not control.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(control))
            answers = sock.makefile("rb")
            sock.sendall(b'{"op": "harts"}\n')
            harts = json.loads(answers.readline())["harts"]
            assert len(harts) == 1 and harts[0]["instret"] > 0
            # The emulator may leave before its answer is sent: its exit status is the answer.
            sock.sendall(b'{"op": "power-off"}\n')
            assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


# Runs main() with the machine built but not run, and PyPy's JIT tuning recorded in order.
TUNED = """
import sys
from harness.emulator import cli
order = []


class Built(cli.Machine):
    def __init__(self, *args, **kwargs):
        order.append("machine")
        super().__init__(*args, **kwargs)

    def run(self, max_seconds=None, control=None):
        order.append("run")
        return 0


cli.Machine = Built
cli.tune_jit = lambda rom_boot: order.append(f"tune:{rom_boot}")
status = cli.main(sys.argv[1:])
print("order:", status, *order)
"""


def test_a_mask_rom_boot_tunes_pypys_jit_before_the_rom_reads_the_card(tmp_path: Path) -> None:
    # Building the FU740 that boots from its card already runs the mask ROM's SPI reads of the
    # SPL, so the JIT's settings for the firmware come first; a RAM boot asks for none.
    from .fu740_card import write_card

    card = write_card(tmp_path / "sd.img", spl=bytes.fromhex("73005010") * 4)  # wfi
    elf = build_elf(tmp_path, HELLO, "hello")
    for args, rom_boot in (
        (["-M", "unmatched,msel=11", "-drive", f"file={card},if=sd,format=raw"], True),
        (["-bios", "none", "-kernel", str(elf)], False),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", TUNED, *args], capture_output=True, text=True, cwd=ROOT,
            stdin=subprocess.DEVNULL, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.rsplit("order: ", 1)[-1].split() == ["0", f"tune:{rom_boot}", "machine", "run"]
