"""Real OpenOCD (remote_bitbang) and gdb-multiarch against the emulator's JTAG port.

The guest (test_debug_module.SPIN) leaves s1 = hartid * 100 + 7 on every hart and counts in
s2, storing each count to counters[hartid]: the values OpenOCD reads are checked against that.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.emulator.boards import FU740_IDCODE, VIRT_IDCODE

from .conftest import build_elf, needs_gcc
from .test_debug_module import COUNTERS, SPIN

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "boards" / "openocd" / "emulator.cfg"
pytestmark = [
    needs_gcc,
    pytest.mark.skipif(shutil.which("openocd") is None, reason="openocd not installed (make deps)"),
]
REG_RE = re.compile(r"(\w+) \(/64\): 0x([0-9a-f]+)")


@dataclass(frozen=True)
class Emulator:
    """A running emulator process with its JTAG port."""

    proc: subprocess.Popen[bytes]
    port: int
    harts: int
    idcode: int
    elf: Path
    loop: int


def _symbol(elf: Path, name: str) -> int:
    out = subprocess.run(["riscv64-unknown-elf-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines() if line.endswith(f" {name}"))


@pytest.fixture(scope="module", params=[("virt", 1), ("virt", 4), ("unmatched", 5)], ids=lambda p: f"{p[0]}-{p[1]}")
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    board, harts = request.param
    elf = build_elf(tmp_path_factory.mktemp("spin"), SPIN, "spin")
    argv = [sys.executable, "-m", "harness.emulator", "-M", board, "-smp", str(harts), "-bios", "none"]
    argv += ["-kernel", str(elf), "-nographic", "-jtag", "tcp:0"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        match = re.search(r"JTAG remote_bitbang on tcp:127\.0\.0\.1:(\d+)", line)
        assert match, f"no JTAG announcement: {line!r}"
        idcode = FU740_IDCODE if board == "unmatched" else VIRT_IDCODE
        yield Emulator(proc, int(match.group(1)), harts, idcode, elf, _symbol(elf, "loop"))
    finally:
        proc.terminate()
        proc.wait(10)


def openocd(emu: Emulator, commands: str, gdb_port: str = "disabled", timeout: float = 120) -> str:
    """Run OpenOCD with the emulator's config and ``commands`` after init; its whole output."""
    argv = ["openocd", "-c", f"set RBB_PORT {emu.port}; set HARTS {emu.harts}; set IDCODE {emu.idcode:#x}"]
    argv += ["-f", str(CONFIG), "-c", f"gdb_port {gdb_port}; telnet_port disabled; tcl_port disabled"]
    argv += ["-c", "init", "-c", commands]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    return done.stdout + done.stderr


def test_openocd_examines_halts_reads_writes_resumes(emulator: Emulator) -> None:
    n = emulator.harts
    out = openocd(
        emulator,
        "halt; "
        "proc r {name} { string trim [capture [list reg $name]] }; "
        'foreach t [target names] { targets $t; echo "HART $t [r s1] [r s2] [r pc]" }; '
        f'echo "MEM [capture {{mdd {COUNTERS:#x} {n}}}]"; '
        "foreach t [target names] { targets $t; reg s2 5000000 }; "
        f"mww {COUNTERS + 0x100:#x} 0xcafe; "
        f'echo "WORD [capture {{mdw {COUNTERS + 0x100:#x} 1}}]"; '
        "resume; sleep 500; halt; "
        f'echo "AFTER [capture {{mdd {COUNTERS:#x} {n}}}]"; '
        "resume; shutdown",
    )
    assert f"found {n} harts" in out, out
    if emulator.idcode == FU740_IDCODE:
        assert "tap/device found: 0x20000913" in out
        assert "hart 0: XLEN=64, misa=0x8000000000101105" in out  # the S7: RV64IMAC, U, no S
        assert "hart 1: XLEN=64, misa=0x800000000014112d" in out
    harts = [line for line in out.splitlines() if line.startswith("HART ")]
    assert len(harts) == n, out
    counts = []
    for i, line in enumerate(harts):
        regs = {name: int(value, 16) for name, value in REG_RE.findall(line)}
        assert regs["s1"] == i * 100 + 7, line
        assert emulator.loop <= regs["pc"] < emulator.loop + 12, line
        counts.append(regs["s2"])
    memory = _mdd(out, "MEM ", "WORD ")
    for count, stored in zip(counts, memory, strict=True):
        assert stored in (count - 1, count)  # halted between the addi and its store, or after
    assert re.search(r"WORD 0x[0-9a-f]+: 0000cafe", out), out
    after = _mdd(out, "AFTER ", "shutdown command")
    assert all(value > 5_000_000 for value in after), after  # the guest ran on from the written s2


def _mdd(out: str, start: str, end: str) -> list[int]:
    """The doublewords an ``mdd`` printed between two markers of the output."""
    section = out[out.index(start) : out.index(end)]
    return [int(v, 16) for row in re.findall(r"0x[0-9a-f]+: ((?:[0-9a-f]{16} ?)+)", section) for v in row.split()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="gdb-multiarch not installed (make deps)")
def test_gdb_hardware_breakpoint_through_a_trigger(emulator: Emulator) -> None:
    port = _free_port()
    server = subprocess.Popen(
        ["openocd", "-c", f"set RBB_PORT {emulator.port}; set HARTS {emulator.harts}; set IDCODE {emulator.idcode:#x}",
         "-f", str(CONFIG),
         "-c", f"gdb_port {port}; telnet_port disabled; tcl_port disabled"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "Listening on port" in line and "gdb" in line:
                break
        gdb = subprocess.run(
            ["gdb-multiarch", "-nx", "-batch", str(emulator.elf),
             "-ex", f"target extended-remote :{port}",
             "-ex", "p/x $pc", "-ex", f"hbreak *{emulator.loop + 4:#x}", "-ex", "continue",
             "-ex", "p/x $pc", "-ex", "p $s1", "-ex", "info threads",
             "-ex", "delete", "-ex", "detach"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        out = gdb.stdout + gdb.stderr
        assert "Hardware assisted breakpoint 1" in out, out
        pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)$", out, re.M)]
        assert len(pcs) == 2, out
        # A hart stopped at the trigger's instruction (the sd after the addi), the others halted
        # with it anywhere in the loop. gdb's selected thread is the one that hit, unless OpenOCD
        # names none ("stopped without sending a thread-id": gdb then takes thread 1, which CI
        # once found at loop + 8).
        hit = rf"^\*?\s*\d+\s+Thread .* 0x0*{emulator.loop + 4:x} in loop \(\)$"
        assert re.search(hit, out, re.M), out
        if "without sending a thread-id" not in out:
            assert pcs[1] == emulator.loop + 4, out
        s1 = re.search(r"^\$3 = (\d+)$", out, re.M)
        assert s1 and int(s1.group(1)) in {h * 100 + 7 for h in range(emulator.harts)}, out  # the hart that hit
    finally:
        server.terminate()
        server.wait(10)


def test_unmatched_config_parses() -> None:
    """boards/openocd/unmatched.cfg is valid OpenOCD (the FT2232 itself is not here: no init)."""
    cfg = ROOT / "boards" / "openocd" / "unmatched.cfg"
    done = subprocess.run(
        ["openocd", "-f", str(cfg), "-c", "echo CONFIG-OK; echo [target names]; shutdown"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "CONFIG-OK" in out, out
    assert "riscv.cpu0 riscv.cpu1 riscv.cpu2 riscv.cpu3 riscv.cpu4" in out


def test_reset_halt_stops_every_hart_at_the_reset_vector(emulator: Emulator) -> None:
    """OpenOCD's ``reset halt``: ndmreset with halt-on-reset; then the guest runs its program again."""
    out = openocd(
        emulator,
        "reset halt; "
        'foreach t [target names] { targets $t; echo "HART $t [string trim [capture {reg pc}]]" }; '
        "resume; sleep 300; halt; "
        'foreach t [target names] { targets $t; echo "AGAIN $t [string trim [capture {reg s1}]]" }; '
        "resume; shutdown",
    )
    pcs = [int(v, 16) for v in re.findall(r"^HART \S+ pc \(/64\): 0x([0-9a-f]+)", out, re.M)]
    assert pcs == [0x1000] * emulator.harts, out
    again = [int(v, 16) for v in re.findall(r"^AGAIN \S+ s1 \(/64\): 0x([0-9a-f]+)", out, re.M)]
    assert again == [i * 100 + 7 for i in range(emulator.harts)], out
