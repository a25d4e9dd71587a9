"""The autopsy of qsoe-sim's hangs on the in-repo emulator (issue 19's acceptance): the lock-order
deadlock names both harts and the lock functions from qsoe.elf; the ipcwait fault has every hart
idle in wfi; the autopsy changes neither console.log nor what a replay decides."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.autopsy.model import DiagnosisKind, HartClass, LoopWait
from harness.autopsy.render import autopsy_lines
from harness.model.board import PROJECT_ROOT
from harness.model.plan import load_plan
from harness.probes.registry import BACKENDS
from harness.probes.take import take_autopsy
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.emulator import EmulatorTarget

PLAN = PROJECT_ROOT / "testplans" / "qsoe-boot.toml"


# Every qsoe board whose target kind has an autopsy backend (QEMU's joins when it is registered).
BOARDS = [name for name, kind in (("emulator-qsoe", "emulator"), ("qemu-qsoe", "qemu")) if kind in BACKENDS]


def boot(build_image: Callable[..., Path], folder: Path, board_name: str, fault: str) -> RunResult:
    board = load_board(board_name, images=[("kernel", str(build_image(FAULT=fault)))])
    return Runner(prepare(load_plan(PLAN), board, variables={"seed": "7"}), out_dir=folder / fault).run()


@pytest.fixture(scope="module", params=BOARDS)
def wedge(
    build_image: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> RunResult:
    return boot(build_image, tmp_path_factory.mktemp("autopsy"), request.param, "wedge")


@pytest.fixture(scope="module", params=BOARDS)
def ipcwait(
    build_image: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> RunResult:
    return boot(build_image, tmp_path_factory.mktemp("autopsy"), request.param, "ipcwait")


def test_the_lock_order_deadlock_names_both_harts_and_the_lock_functions(wedge: RunResult) -> None:
    autopsy = wedge.autopsy
    assert wedge.verdict.kind.value == "wedge" and autopsy is not None, wedge.verdict.reason
    assert autopsy.backend == wedge.board.target and autopsy.samples == 5
    assert autopsy.diagnosis.kind is DiagnosisKind.DEADLOCK
    assert autopsy.diagnosis.summary.startswith("deadlock: harts 0 and 1 spin waiting on memory")
    functions = {h.hart: h.where.function for h in autopsy.harts if h.where is not None}
    # init took proc_lock and spins for tm_lock (lr/sc); taskman holds tm_lock and spins for proc_lock.
    assert functions == {0: "spin_lock_lrsc", 1: "spin_lock"}
    for hart in autopsy.harts:
        assert hart.klass is HartClass.SPINNING and hart.where is not None and hart.where.file == "lock.c"
        assert hart.loop is LoopWait.MEMORY, autopsy_lines(autopsy)  # both lock loops read the lock
        first, last = hart.samples[0].instret, hart.samples[-1].instret
        assert first is None or last is None or last > first  # None: a backend that cannot count
    callers = {h.hart: [f.where.function for f in h.backtrace if f.where] for h in autopsy.harts}
    assert callers[0][0] == "hart0_main" and callers[1][0] == "taskman_main"
    assert autopsy.duration < 5.0


def test_the_autopsy_changes_neither_the_log_nor_the_replay(wedge: RunResult) -> None:
    log = (wedge.out_dir / "console.log").read_text()
    assert log.rstrip().splitlines()[-1].endswith("exec level1.sh")
    replayed = replay(wedge.out_dir)
    assert replayed.differences() == []


def test_a_server_waiting_on_its_client_leaves_every_hart_idle(ipcwait: RunResult) -> None:
    autopsy = ipcwait.autopsy
    assert ipcwait.verdict.kind.value == "wedge" and autopsy is not None, ipcwait.verdict.reason
    assert autopsy.diagnosis.summary == "deadlock: all harts idle in wfi, no enabled interrupt pending"
    assert [h.klass for h in autopsy.harts] == [HartClass.IDLE, HartClass.IDLE]
    init, taskman = autopsy.harts
    # init waits for taskman's reply in tm_call; taskman, serving it, waits for init's acknowledgement.
    assert init.where is not None and init.where.function == "tm_call"
    assert taskman.where is not None and (taskman.where.function, taskman.where.file) == ("tm_wait_client", "taskman.c")
    assert [f.where.function for f in taskman.backtrace if f.where][:1] == ["taskman_main"]
    assert taskman.state is not None and taskman.state.wfi and taskman.state.mie and not taskman.state.pending_enabled


def test_an_emulator_that_died_gives_the_reason(build_image: Callable[..., Path]) -> None:
    board = load_board("emulator-qsoe", images=[("kernel", str(build_image(FAULT="wedge")))])
    target = EmulatorTarget(board, {"seed": "1"})
    target.power_on()
    try:
        assert target.pid is not None
        os.killpg(target.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while target.console().alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        autopsy = take_autopsy(target, board)
        assert time.monotonic() - started < 5.0
        assert autopsy.diagnosis.summary.startswith("autopsy unavailable: the emulator is not running")
    finally:
        target.power_off()
