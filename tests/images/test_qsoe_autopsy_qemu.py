"""The QEMU autopsy backend (harness/probes/qemu.py) on a real QEMU: the gdbstub on the command
line, the guest running on after an autopsy, and a QEMU that is stopped or gone. The deadlock's
diagnosis through the runner is tests/images/test_qsoe_autopsy.py's, on every qsoe board."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.autopsy.model import AutopsySettings, Privilege
from harness.engine.console import Console
from harness.model.board import PROJECT_ROOT, Board
from harness.probes.take import take_autopsy
from harness.run.board_loader import load_board
from harness.targets import make_target
from harness.targets.qemu import QemuTarget, gdb_address, qemu_argv

VARIABLES = {"seed": "0"}
PLAN = PROJECT_ROOT / "testplans" / "qsoe-boot.toml"


def test_qemu_command_line_has_a_gdbstub_unless_the_board_brings_its_own(tmp_path: Path) -> None:
    board = load_board("qemu-virt")
    argv = qemu_argv(board, VARIABLES, None, tmp_path / "gdb.sock")
    assert argv[argv.index("-gdb") + 1] == f"unix:{tmp_path / 'gdb.sock'},server=on,wait=off"
    assert gdb_address(argv) == tmp_path / "gdb.sock"
    own = load_board("qemu-virt", overrides=[("qemu.extra", '["-gdb", "tcp::4321"]')])
    argv = qemu_argv(own, VARIABLES, None, tmp_path / "gdb.sock")
    assert argv.count("-gdb") == 1 and gdb_address(argv) == ("localhost", 4321)
    assert gdb_address(["qemu", "-s"]) == ("localhost", 1234)
    assert gdb_address(["qemu", "-gdb", "chardev:dbg"]) is None


@pytest.fixture(scope="module")
def qsoe_wedge(build_image: Callable[..., Path]) -> Path:
    """qsoe-sim built with FAULT=wedge: both harts deadlock on two spinlocks after the SPAWN trace."""
    if shutil.which("qemu-system-riscv64") is None:
        pytest.skip("qemu-system-riscv64 not installed (make deps)")
    return build_image(FAULT="wedge")


@pytest.fixture(scope="module")
def wedged(qsoe_wedge: Path) -> Iterator[tuple[QemuTarget, Board, Console]]:
    """qemu-qsoe running the wedge until its console has gone quiet."""
    board = load_board("qemu-qsoe", images=[("kernel", str(qsoe_wedge))])
    target = make_target(board, VARIABLES)
    assert isinstance(target, QemuTarget)
    console = Console(target.console())
    console.start()
    target.power_on()
    console.mark_powered()
    try:
        deadline = time.monotonic() + 20
        while "TM_REQ_SPAWN" not in "".join(text for _, text in console.last_lines(5)):
            assert time.monotonic() < deadline, console.last_lines(20)
            time.sleep(0.05)
        yield target, board, console
    finally:
        target.power_off()
        console.stop()


def test_the_guest_runs_on_after_an_autopsy(wedged: tuple[QemuTarget, Board, Console]) -> None:
    target, board, _console = wedged
    settings = AutopsySettings(samples=2, span=0.1)
    first = take_autopsy(target, board, settings)
    status = target.qmp.command("query-status")
    assert status["running"] is True, status
    # A second autopsy of the same target connects again and reads the same deadlock.
    second = take_autopsy(target, board, settings)
    assert first.available and second.available
    assert len(second.harts) == 2
    for hart in second.harts:
        state = hart.state
        assert state is not None and state.mode is Privilege.M and not state.wfi and state.satp_mode == "bare"
        # QEMU without -icount cannot count instructions: the backend says so rather than guess.
        assert state.instret is None


def test_a_stopped_qemu_process_is_unavailable_within_the_limit(wedged: tuple[QemuTarget, Board, Console]) -> None:
    target, board, _console = wedged
    # QEMU runs under the harness's keeper, in its own process group: stop them all.
    group = target.pid
    assert group is not None
    os.killpg(group, signal.SIGSTOP)
    try:
        started = time.monotonic()
        autopsy = take_autopsy(target, board, AutopsySettings(limit=1.0))
        took = time.monotonic() - started
    finally:
        os.killpg(group, signal.SIGCONT)
    assert not autopsy.available
    assert autopsy.diagnosis.summary.startswith("autopsy unavailable: "), autopsy.diagnosis
    assert "\n" not in autopsy.diagnosis.summary
    assert took < 2.0


def test_a_qemu_that_exited_is_unavailable(qsoe_wedge: Path) -> None:
    board = load_board("qemu-qsoe", images=[("kernel", str(qsoe_wedge))])
    target = make_target(board, VARIABLES)
    console = Console(target.console())
    console.start()
    target.power_on()
    target.power_off()
    console.stop()
    autopsy = take_autopsy(target, board, AutopsySettings(limit=1.0))
    assert not autopsy.available
    assert "not running" in autopsy.diagnosis.summary
