"""The autopsy issue's wedges through the serial board's path (console on a pty, autopsy through
OpenOCD on remote_bitbang) give the same autopsy as the emulator's own backend.

- qsoe-sim's lock-order deadlock (``FAULT=wedge``), on the emulator's ``virt`` with 2 harts;
- a five-hart FU740 boot whose secondary harts never start: Debian's OpenSBI and U-Boot on the
  emulator's ``unmatched``, wedged at U-Boot's prompt (the S7 idle, the other U74s parked in
  OpenSBI's image).

Each wedge boots twice: as a lab's serial board (the plug powers the emulator on; the verdict
is the harness's wall-clock silence) and on the ``emulator`` target (its control socket).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.autopsy.model import Autopsy, HartClass, Privilege
from harness.emulator.boards import FU740_IDCODE, VIRT_IDCODE
from harness.model.plan import load_plan
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare

from .conftest import Lab, switched_lab, write
from .virtual import EmulatorBoard

ROOT = Path(__file__).resolve().parents[2]
QSOE = ROOT / "images" / "qsoe-sim"
FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
CONFIG = ROOT / "boards" / "openocd" / "emulator.cfg"
pytestmark = [
    pytest.mark.skipif(shutil.which("openocd") is None, reason="openocd not installed (make deps)"),
    pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None, reason="riscv64-unknown-elf-gcc missing"),
]

QSOE_PLAN = """
name = "qsoe-wedge"
silence = "2s"
timeout = "60s"
[[milestone]]
name = "banner"
expect = 'QSOE/sim v\\d+\\.\\d+'
within = "30s"
[[milestone]]
name = "login"
expect = 'login: $'
within = "30s"
"""

UBOOT_PLAN = """
name = "uboot-then-quiet"
timeout = "5m"
[[milestone]]
name = "opensbi"
expect = 'OpenSBI v'
within = "60s"
[[milestone]]
name = "boot-hart"
expect = '^Boot HART ID\\s*: (?P<hart>\\d+)'
within = "30s"
[[milestone]]
name = "autoboot"
expect = 'Hit any key to stop autoboot'
within = "3m"
[[milestone]]
name = "prompt"
keys = "\\r"
expect = '=> $'
within = "60s"
[[milestone]]
name = "nothing-more"
expect = 'no line says this'
within = "60s"
silence = "{silence}"
"""


def jtag_table(board: EmulatorBoard, harts: int, idcode: int, symbols: dict[str, Path]) -> str:
    listed = "\n".join(f'{label} = "{path}"' for label, path in symbols.items())
    return (
        textwrap.dedent(f"""
        [jtag]
        config = "{CONFIG}"
        [jtag.set]
        RBB_PORT = {board.jtag_port}
        HARTS = {harts}
        IDCODE = "{idcode:#x}"
        """)
        + f"\n[symbols]\n{listed}\n"
    )


def serial_run(lab: Lab, table: str, plan: str, folder: Path) -> RunResult:
    folder.mkdir(parents=True, exist_ok=True)
    board = lab.board_file(extra=table)
    return Runner(
        prepare(load_plan(write(folder / "plan.toml", plan)), load_board(str(board))), out_dir=folder / "run"
    ).run()


def emulator_run(board_text: str, plan: str, folder: Path) -> RunResult:
    folder.mkdir(parents=True, exist_ok=True)
    board = write(folder / "board.toml", board_text)
    return Runner(
        prepare(load_plan(write(folder / "plan.toml", plan)), load_board(str(board))), out_dir=folder / "run"
    ).run()


def view(autopsy: Autopsy | None) -> list[tuple[int, HartClass, Privilege | None, str | None, str | None]]:
    """What the two backends must agree on, hart by hart: class, mode, function, image."""
    assert autopsy is not None and autopsy.available, autopsy
    return [
        (h.hart, h.klass, h.state and h.state.mode, h.where and h.where.function, h.where and h.where.image)
        for h in autopsy.harts
    ]


@pytest.fixture(scope="module")
def qsoe_wedge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """qsoe-sim built with its lock-order deadlock."""
    out = tmp_path_factory.mktemp("qsoe")
    done = subprocess.run(
        ["make", "-s", "-f", str(QSOE / "Makefile"), f"BUILD_DIR={out / 'b'}", f"OBJ_DIR={out / 'obj'}", "FAULT=wedge"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "b" / "qsoe.elf"


@pytest.fixture
def qsoe_lab(tmp_path: Path, qsoe_wedge: Path) -> Iterator[Lab]:
    board = EmulatorBoard(tmp_path, qsoe_wedge, machine="virt", smp=2, extra=("-m", "128M", "-append", "seed=7"))
    with switched_lab(tmp_path, board) as lab:
        yield lab


def test_the_qsoe_deadlock_through_openocd_is_the_emulators_autopsy(
    qsoe_lab: Lab, qsoe_wedge: Path, tmp_path: Path
) -> None:
    assert isinstance(qsoe_lab.board, EmulatorBoard)
    table = jtag_table(qsoe_lab.board, 2, VIRT_IDCODE, {"qsoe": qsoe_wedge})
    serial = serial_run(qsoe_lab, table, QSOE_PLAN, tmp_path / "serial")
    assert serial.verdict.kind.value == "wedge" and serial.verdict.waiting_for == "login", serial.verdict.reason
    through_jtag = serial.autopsy
    assert through_jtag is not None and through_jtag.backend == "openocd", through_jtag
    own = emulator_run(
        f"""
        name = "emulator-qsoe-wedge"
        target = "emulator"
        [images]
        bios = "none"
        kernel = "{qsoe_wedge}"
        [emulator]
        machine = "virt"
        smp = 2
        memory = "128M"
        append = "seed=7"
        """,
        QSOE_PLAN,
        tmp_path / "emulator",
    ).autopsy
    assert own is not None and own.backend == "emulator"
    assert view(through_jtag) == view(own)
    # Both name the deadlock, the lock functions and the callers.
    for autopsy in (through_jtag, own):
        assert autopsy.diagnosis.summary.startswith("deadlock: harts 0 and 1 spin waiting on memory")
        assert {h.hart: h.where and h.where.function for h in autopsy.harts} == {0: "spin_lock_lrsc", 1: "spin_lock"}
        callers = {h.hart: [f.where.function for f in h.backtrace if f.where] for h in autopsy.harts}
        assert callers[0][:1] == ["hart0_main"] and callers[1][:1] == ["taskman_main"], callers
    assert through_jtag.duration <= 5.5


@pytest.fixture
def uboot_lab(tmp_path: Path) -> Iterator[Lab]:
    if not (FIRMWARE.is_file() and UBOOT.is_file()):
        pytest.skip("Debian's opensbi and u-boot-qemu are not installed")
    board = EmulatorBoard(
        tmp_path, UBOOT, machine="unmatched", smp=5, bios=str(FIRMWARE),
        extra=("-m", "256M", "-append", "console=ttySIF0 earlycon"),
    )  # fmt: skip
    with switched_lab(tmp_path, board) as lab:
        yield lab


def test_a_uboot_wedge_on_the_unmatched_through_openocd_is_the_emulators_autopsy(
    uboot_lab: Lab, tmp_path: Path
) -> None:
    assert isinstance(uboot_lab.board, EmulatorBoard)
    firmware = FIRMWARE.with_suffix(".elf")
    table = jtag_table(uboot_lab.board, 5, FU740_IDCODE, {"opensbi": firmware})
    # Wall-clock silence at the prompt on the serial board; guest time on the emulator target.
    serial = serial_run(uboot_lab, table, UBOOT_PLAN.format(silence="2s"), tmp_path / "serial")
    assert serial.verdict.kind.value == "wedge" and serial.verdict.waiting_for == "nothing-more", serial.verdict.reason
    own_run = emulator_run(
        f"""
        name = "emulator-unmatched-wedge"
        target = "emulator"
        [images]
        bios = "{FIRMWARE}"
        kernel = "{UBOOT}"
        [emulator]
        machine = "unmatched"
        smp = 5
        memory = "256M"
        append = "console=ttySIF0 earlycon"
        """,
        UBOOT_PLAN.format(silence="0.3s"),
        tmp_path / "emulator",
    )
    assert own_run.verdict.kind.value == "wedge", own_run.verdict.reason
    assert serial.autopsy is not None and serial.autopsy.backend == "openocd", serial.autopsy
    # OpenSBI's lottery picks U-Boot's hart: compare each run's harts by their part.
    parts = []
    for run in (serial, own_run):
        boot_hart = int(run.milestones[1].captures["hart"])
        harts = view(run.autopsy)
        uboot = harts[boot_hart]
        # U-Boot polls the console for a key: it runs, in S-mode (running or spinning by the samples).
        assert uboot[2] is Privilege.S and uboot[1] in (HartClass.RUNNING, HartClass.SPINNING), uboot
        assert harts[0][1] is HartClass.IDLE  # the S7 has no S-mode: OpenSBI parks it for good
        # The others in wfi; or in OpenSBI's wfi loop, which spins while an enabled IPI stays
        # pending (either, by when the samples fell, through both backends).
        parked = [h for h in harts if h[0] != boot_hart]
        for hart in parked:
            assert hart[1] in (HartClass.IDLE, HartClass.SPINNING), hart
        parts.append(sorted((h[2], h[3], h[4]) for h in parked))
    # The harts that never started: the same mode, place (no function: stripped) and image.
    assert parts[0] == parts[1] and all(p == (Privilege.M, None, "fw_jump.elf") for p in parts[0]), parts
