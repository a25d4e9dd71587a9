"""The virtual lab's JTAG: a serial board whose autopsy goes through real OpenOCD.

The board is the emulator as an Unmatched (five harts) on a pty, its JTAG on remote_bitbang,
switched by the lab's HTTP plug: a plan on the ``serial`` board profile wedges, and the autopsy
is taken through OpenOCD started from the profile's ``[jtag]`` — the path a lab with a real
Unmatched takes. The same image on the ``emulator`` target (its own backend) gives the same
autopsy.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.autopsy.model import AutopsySettings, HartClass, Privilege
from harness.model.board import Board
from harness.model.plan import load_plan
from harness.probes.take import take_autopsy
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.fake import FakeTarget
from harness.targets.openocd import OpenOcd, jtag_settings
from harness.targets.openocd_standby import StandbyOpenOcd
from harness.targets.serial import SerialTarget

from .conftest import Lab, switched_lab, write
from .virtual import EmulatorBoard, free_port, garbage_jtag

ROOT = Path(__file__).resolve().parents[2]
# OpenOCD is stopped in the background at power-off: a moment for it to go.
QUIT_GRACE_S = 1.0
pytestmark = [
    pytest.mark.skipif(shutil.which("openocd") is None, reason="openocd not installed (make deps)"),
    pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="riscv64-unknown-elf-gcc missing"),
]

# Hart 0 prints a waiting line now and then until a key comes on the SiFive UART (the serial
# port flushes what came before it was opened), then the boot line; then every hart spins in
# wedge_loop for good, silent.
WEDGE_S = r"""
    .section .text.entry, "ax"
    .globl _start
_start:
    csrr a0, mhartid
    bnez a0, park
    li t0, 0x10010000
    li t1, 1
    sw t1, 8(t0)
    sw t1, 12(t0)
wait:
    la a1, waiting
    call puts
    li t4, 100000
0:  lw t3, 4(t0)
    bgez t3, got_key
    addi t4, t4, -1
    bnez t4, 0b
    j wait
got_key:
    la a1, message
    call puts
park:
    call wedge_loop
puts:
1:  lbu t1, 0(a1)
    beqz t1, 3f
2:  lw t3, 0(t0)
    bltz t3, 2b
    sw t1, 0(t0)
    addi a1, a1, 1
    j 1b
3:  ret
    .globl wedge_loop
    .type wedge_loop, @function
wedge_loop:
    li s2, 0
    .globl wedge_spin
wedge_spin:
    addi s2, s2, 1
    j wedge_spin
    .size wedge_loop, . - wedge_loop
waiting:
    .asciz "hartbeat-lab-waiting\r\n"
message:
    .asciz "hartbeat-lab-boot\r\n"
"""

PLAN = """
name = "lab-jtag-wedge"
timeout = "2m"

[[milestone]]
name = "waiting"
expect = 'hartbeat-lab-waiting'
within = "60s"

[[milestone]]
name = "boot"
keys = "\\r"
expect = 'hartbeat-lab-boot'
within = "60s"

[[milestone]]
name = "shell"
expect = 'no line says this'
within = "60s"
silence = "1s"
"""


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    out = tmp_path / "wedge.elf"
    subprocess.run(
        ["riscv64-unknown-elf-gcc", "-march=rv64imac_zicsr", "-mabi=lp64", "-nostdlib", "-nostartfiles",
         "-Wl,--no-warn-rwx-segments", "-T", str(ROOT / "tests" / "emulator" / "programs" / "link.ld"),
         "-o", str(out), str(write(tmp_path / "wedge.S", WEDGE_S))],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.fixture
def jtag_lab(tmp_path: Path, elf: Path) -> Iterator[Lab]:
    with switched_lab(tmp_path, EmulatorBoard(tmp_path, elf)) as lab:
        yield lab


def jtag_table(lab: Lab, elf: Path, gdb_port: int = 3333) -> str:
    assert isinstance(lab.board, EmulatorBoard)
    return textwrap.dedent(f"""
        [jtag]
        config = "{ROOT / "boards" / "openocd" / "emulator.cfg"}"
        gdb_port = {gdb_port}
        [jtag.set]
        RBB_PORT = {lab.board.jtag_port}
        HARTS = 5
        IDCODE = "0x20000913"

        [symbols]
        lab = "{elf}"
        """)


def board_file(lab: Lab, table: str) -> Path:
    """The lab's serial profile with ``table`` ([jtag] ...)."""
    path = lab.board_file(extra=table)
    return path


def run(board_file: Path, folder: Path) -> RunResult:
    folder.mkdir(parents=True, exist_ok=True)
    plan = load_plan(write(folder / "plan.toml", PLAN))
    return Runner(prepare(plan, load_board(str(board_file))), out_dir=folder / "run").run()


# The tests below look for OpenOCDs that outlive their run among every process on the machine:
# under xdist they run `alone`, so no test on another worker has an OpenOCD of its own up.
def _openocd_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = entry.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"openocd" and any(b"emulator.cfg" in a for a in argv):
            pids.add(int(entry.parent.name))
    return pids


@pytest.mark.alone
def test_a_wedged_serial_board_is_autopsied_through_openocd(
    jtag_lab: Lab, elf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _openocd_pids()
    # The autopsy takes the OpenOCD the target started at power-on (examined, standing by).
    handed: list[object] = []
    take = SerialTarget.take_openocd

    def take_and_note(target: SerialTarget, deadline: float) -> object:
        handed.append(take(target, deadline))
        return handed[-1]

    monkeypatch.setattr(SerialTarget, "take_openocd", take_and_note)
    result = run(board_file(jtag_lab, jtag_table(jtag_lab, elf)), tmp_path / "serial")
    assert len(handed) == 1 and handed[0] is not None, "the OpenOCD started at power-on was not ready"
    assert result.verdict.kind.value == "wedge" and result.verdict.waiting_for == "shell", result.verdict.reason
    autopsy = result.autopsy
    assert autopsy is not None and autopsy.available, autopsy
    assert autopsy.backend == "openocd"
    assert [h.hart for h in autopsy.harts] == [0, 1, 2, 3, 4]
    assert autopsy.samples >= 2, (autopsy.samples, autopsy.duration, autopsy.notes)
    for hart in autopsy.harts:
        assert hart.state is not None and hart.state.mode is Privilege.M
        assert hart.where is not None and hart.where.function in ("wedge_loop", "wedge_spin"), hart
        assert hart.klass is HartClass.SPINNING, hart
    assert autopsy.duration <= 5.5
    time.sleep(QUIT_GRACE_S)
    assert _openocd_pids() <= before, "an OpenOCD outlived the run"

    # The same image on the emulator target, through the emulator's own backend: the same autopsy.
    board = write(
        tmp_path / "lab-emulator.toml",
        f"""
        name = "lab-emulator"
        target = "emulator"
        [images]
        bios = "none"
        kernel = "{elf}"
        [emulator]
        machine = "unmatched"
        smp = 5
        [symbols]
        lab = "{elf}"
        """,
    )
    own = run(board, tmp_path / "emulator").autopsy
    assert own is not None and own.available and own.backend == "emulator"
    assert [(h.hart, h.klass, h.state and h.state.mode, h.where and h.where.function) for h in own.harts] == [
        (h.hart, h.klass, h.state and h.state.mode, h.where and h.where.function) for h in autopsy.harts
    ]
    assert own.diagnosis.kind == autopsy.diagnosis.kind


@pytest.mark.alone
def test_openocd_that_cannot_reach_the_jtag_leaves_the_verdict_and_says_why(
    jtag_lab: Lab, elf: Path, tmp_path: Path
) -> None:
    table = jtag_table(jtag_lab, elf).replace(f"RBB_PORT = {jtag_lab.board.jtag_port}", "RBB_PORT = 1")  # type: ignore[attr-defined]
    before = _openocd_pids()
    result = run(board_file(jtag_lab, table), tmp_path / "serial")
    assert result.verdict.kind.value == "wedge"
    autopsy = result.autopsy
    assert autopsy is not None and not autopsy.available
    assert autopsy.diagnosis.summary.startswith("autopsy unavailable: openocd: "), autopsy.diagnosis.summary
    assert "127.0.0.1:1" in autopsy.diagnosis.summary or "connect" in autopsy.diagnosis.summary.lower()
    assert autopsy.duration <= 5.5
    time.sleep(QUIT_GRACE_S)
    assert _openocd_pids() <= before


def _symbol(elf: Path, name: str) -> int:
    out = subprocess.run(["riscv64-unknown-elf-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines() if line.endswith(f" {name}"))


@pytest.mark.alone
@pytest.mark.skipif(shutil.which("gdb-multiarch") is None, reason="gdb-multiarch not installed (make deps)")
def test_run_hold_leaves_openocd_up_for_gdb(jtag_lab: Lab, elf: Path, tmp_path: Path) -> None:
    before = _openocd_pids()
    board = board_file(jtag_lab, jtag_table(jtag_lab, elf, free_port()))
    folder = tmp_path / "hold"
    folder.mkdir()
    plan = write(folder / "plan.toml", PLAN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(plan), "--board", str(board), "--hold",
         "--out", str(folder / "run")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        command, seen = "", []
        deadline = time.monotonic() + 120
        while not command and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            if line.strip().startswith("gdb-multiarch"):
                command = line.strip()
        assert command and str(elf) in command, "".join(seen)
        spin = _symbol(elf, "wedge_spin")
        # The breakpoint goes on the loop instruction the current hart is not on (gdb's step over
        # a breakpoint under the current pc is not what is tested here).
        script = write(
            folder / "gdb.cmd",
            f"""
            info registers pc
            if $pc == {spin:#x}
              hbreak *{spin + 2:#x}
            else
              hbreak *{spin:#x}
            end
            continue
            p/x $pc
            info threads
            """,
        )
        gdb = subprocess.run(
            [*shlex.split(command), "-batch", "-x", str(script)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        out = gdb.stdout + gdb.stderr
        assert re.search(r"^pc\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <wedge_loop", out, re.M), out  # held in the wedge
        placed = re.search(r"Hardware assisted breakpoint 1 at (0x[0-9a-f]+)", out)
        assert placed and int(placed.group(1), 16) in (spin, spin + 2), out
        assert re.search(rf"^\$1 = {placed.group(1)}$", out, re.M), out  # continued to the trigger
        assert "Thread 5" in out, out  # five harts, as gdb's threads (-rtos hwthread)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # let it power off and stop its OpenOCD
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert "lab-jtag-wedge on lab-board: WEDGE" in rest, rest
    time.sleep(QUIT_GRACE_S)
    assert not _openocd_pids() - before, "OpenOCD outlived the held run"


class PoweredOn(FakeTarget):
    """A target holding OpenOCD standing by since power-on, as a serial board does."""

    def __init__(self, standby: StandbyOpenOcd) -> None:
        super().__init__()
        self.standby = standby

    def take_openocd(self, deadline: float) -> OpenOcd | None:
        try:
            return self.standby.take(deadline)
        finally:
            self.standby.close()


@pytest.mark.alone
@pytest.mark.parametrize("power_on_s", [None, 0.3, 2.0], ids=["at-verdict", "starting", "standing-by"])
def test_a_jtag_chain_answering_garbage_gives_openocds_error_within_the_limit(
    tmp_path: Path, power_on_s: float | None
) -> None:
    """A remote_bitbang peer whose TDO is noise: OpenOCD's own complaint, in time, nothing left
    over; whether OpenOCD is started at the verdict or has been trying since power-on."""
    before = _openocd_pids()
    with garbage_jtag() as port:
        config = ROOT / "boards" / "openocd" / "emulator.cfg"
        board = Board(
            name="garbage",
            path=tmp_path / "garbage.toml",
            target="serial",
            settings={"jtag": {"config": str(config), "set": {"RBB_PORT": port, "HARTS": 5}}},
        )
        target = FakeTarget()
        if power_on_s is not None:
            settings = jtag_settings(board)
            assert settings is not None
            standby = StandbyOpenOcd(settings)
            standby.start()
            time.sleep(power_on_s)
            target = PoweredOn(standby)
        autopsy = take_autopsy(target, board, AutopsySettings())
    summary = autopsy.diagnosis.summary
    assert summary.startswith("autopsy unavailable: openocd: ") and "\n" not in summary, summary
    assert "JTAG" in summary or "IR capture" in summary or "examined" in summary, summary
    assert autopsy.duration <= 5.5
    time.sleep(QUIT_GRACE_S)
    assert _openocd_pids() <= before
