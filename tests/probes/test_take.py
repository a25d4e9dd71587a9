"""take_autopsy: sampling through a backend, its time limit, every failure as one reason line,
and the runner taking it after the verdict and before power-off (FakeTarget, milliseconds)."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path

import pytest

from harness.analysis.compare import Column, compare, table
from harness.autopsy.model import (
    AutopsySettings,
    DiagnosisKind,
    HartClass,
    HartGlance,
    HartMissing,
    HartState,
    Location,
    LoopWait,
    Privilege,
    TrapCsrs,
)
from harness.bisect.answer import Answer
from harness.bisect.bisector import culprit_autopsy
from harness.bisect.html import render
from harness.engine.verdict import Kind
from harness.model.board import Board
from harness.model.plan import Milestone, Plan, standard_fails
from harness.probes import take
from harness.probes.backend import AutopsyBackend, AutopsyUnavailable, Probe, Request
from harness.probes.take import take_autopsy
from harness.records.report import summary
from harness.records.run_folder import load_run
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.fake import FakeTarget

FAST = AutopsySettings(samples=5, span=0.1, limit=2.0)
FAKE_BOARD = Board(name="fake-board", path=Path("fake-board.toml"), target="fake")
LOCK = 0x80000300  # spin_lock: 0x80000300-0x80000340; caller: 0x80001000-0x80001100


class Names:
    """A symbolizer for the scripted harts."""

    def __init__(self) -> None:
        self.loaded = False

    def load(self) -> None:
        self.loaded = True

    def locate(self, address: int, mode: Privilege) -> Location | None:
        if LOCK <= address < LOCK + 0x40:
            return Location("k.elf", "spin_lock", address - LOCK, "lock.c", 12)
        if 0x80001000 <= address < 0x80001100:
            return Location("k.elf", "spawn", address - 0x80001000, "init.c", 59)
        return None

    def problems(self) -> tuple[str, ...]:
        return ()

    def names(self) -> tuple[str, ...]:
        return ("kernel=k.elf",)

    def verify(self, address: int, read: object) -> None:
        self.verified = address


# The code at LOCK: lr.w.aq t0,(a0); bne t0,zero,LOCK (a loop that waits on memory).
LOCK_LOOP = bytes.fromhex("af220514e39e02fe")


class Scripted:
    """Two harts spinning in spin_lock, hart 1 with a frame that returns into spawn."""

    def __init__(self, target: object = None) -> None:
        self.reads = 0
        self.closed = False
        self.target = target
        self.powered_at_read: list[bool] = []

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        self.reads += 1
        if isinstance(self.target, FakeTarget):
            self.powered_at_read.append(self.target.powered)
        return tuple(
            HartState(
                hart=h, mode=Privilege.M, pc=LOCK + 4 * (self.reads % 2), ra=LOCK + 0x20, sp=0x8000_7F00,
                fp=0x8000_7F40, wfi=False, mstatus=0, mip=0, mie=8, satp=0, m_trap=TrapCsrs(0, 0, 0),
                instret=1000 * self.reads + h, traps=0,
            )
            for h in (0, 1)
        )  # fmt: skip

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        if LOCK <= address < LOCK + len(LOCK_LOOP):
            return LOCK_LOOP[address - LOCK : address - LOCK + size]
        # fp - 16: the caller's fp (0: outermost) and the return address into spawn.
        return struct.pack("<QQ", 0, 0x80001010) if address == 0x8000_7F30 and size == 16 else None

    def close(self) -> None:
        self.closed = True


def use(monkeypatch: pytest.MonkeyPatch, opener: object) -> None:
    monkeypatch.setattr(take, "backend_for", lambda kind: AutopsyBackend(name="scripted", open=opener))


def test_samples_every_hart_classifies_and_walks_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Scripted()
    use(monkeypatch, lambda request: probe)
    names = Names()
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, FAST, names)
    assert autopsy.available and probe.closed and names.loaded
    assert (autopsy.backend, autopsy.samples, probe.reads) == ("scripted", 5, 5)
    assert 0.08 <= autopsy.span <= 1.0 and autopsy.duration >= autopsy.span
    assert autopsy.diagnosis.kind is DiagnosisKind.DEADLOCK
    assert "harts 0 and 1 spin waiting on memory" in autopsy.diagnosis.summary
    hart = autopsy.harts[1]
    assert hart.loop is LoopWait.MEMORY and hart.note.endswith(
        "its loop leaves on a value read from memory: it waits on another hart or a device"
    )
    assert hart.klass is HartClass.SPINNING and hart.where is not None and hart.where.function == "spin_lock"
    assert [s.instret for s in hart.samples] == [1001, 2001, 3001, 4001, 5001]
    # ra points into spin_lock itself (a call made from it): the frame chain gives the caller.
    assert [str(f.where) for f in hart.backtrace] == ["spawn+0x10 (init.c:59)"]
    assert autopsy.symbols == ("kernel=k.elf",) and names.verified in (LOCK, LOCK + 4)


class GivesUpOnCode(Scripted):
    """A backend that raises its own error when asked for the loop's code (out of time, say)."""

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        if LOCK <= address < LOCK + 0x40:
            raise AutopsyUnavailable("the backend gave up")
        return super().read_memory(hart, address, size)


def test_a_backend_that_gives_up_on_the_loops_code_costs_only_what_the_loops_wait_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(monkeypatch, lambda request: GivesUpOnCode())
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, FAST, Names())
    assert autopsy.available, autopsy.diagnosis
    assert [h.loop for h in autopsy.harts] == [LoopWait.UNKNOWN, LoopWait.UNKNOWN]
    assert autopsy.diagnosis.kind is DiagnosisKind.SPINNING
    assert autopsy.diagnosis.summary.endswith("what their loops wait on is not known")
    assert [str(f.where) for f in autopsy.harts[1].backtrace] == ["spawn+0x10 (init.c:59)"]  # the rest is read


class SlowMemory(Scripted):
    """A JTAG-like backend: every memory read takes 0.45 s, and once its deadline has passed it
    raises, as the emulator's and QEMU's backends do."""

    def __init__(self, request: Request) -> None:
        super().__init__()
        self.request = request

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        if self.request.expired():
            raise AutopsyUnavailable("the backend did not answer in time")
        time.sleep(0.45)
        return super().read_memory(hart, address, size)


def test_slow_memory_reads_stop_where_the_time_does_and_the_autopsy_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, SlowMemory)
    settings = AutopsySettings(samples=3, span=0.1, limit=1.3)
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, settings, Names())
    assert autopsy.available, autopsy.diagnosis
    assert autopsy.duration < 1.3
    # Not every read fitted: at least one hart's loop or stack was left unread, and said so.
    assert any(h.loop is None or not h.backtrace or h.backtrace[-1].unreadable for h in autopsy.harts)


def test_a_backend_that_gives_up_on_a_stack_read_keeps_the_autopsy(monkeypatch: pytest.MonkeyPatch) -> None:
    class GivesUp(Scripted):
        def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
            raise AutopsyUnavailable("the backend gave up")

    use(monkeypatch, lambda request: GivesUp())
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, FAST, Names())
    assert autopsy.available, autopsy.diagnosis
    assert all(h.klass is HartClass.SPINNING and h.loop is LoopWait.UNKNOWN for h in autopsy.harts)


class Glancing(Scripted):
    """Slow full reads (as over JTAG) and a quick glance: pc, mode, wfi and counters only."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        self.kinds.append("full")
        return super().read_harts()

    def glance(self) -> tuple[HartGlance | HartMissing, ...]:
        self.kinds.append("glance")
        self.reads += 1
        return tuple(
            HartGlance(h, Privilege.M, LOCK + 4 * (self.reads % 2), False, instret=1000 * self.reads + h)
            for h in (0, 1)
        )


def test_a_probe_that_glances_is_read_in_full_first_and_last_only(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Glancing()
    use(monkeypatch, lambda request: probe)
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, FAST, Names())
    assert probe.kinds == ["full", "glance", "glance", "glance", "full"]
    hart = autopsy.harts[1]
    # Every sample counts for the class; the state shown is a full read (sample 1 or 5 at that pc).
    assert [s.instret for s in hart.samples] == [1001, 2001, 3001, 4001, 5001]
    assert hart.klass is HartClass.SPINNING and hart.state is not None and hart.state.instret in (1001, 5001)
    assert [str(f.where) for f in hart.backtrace] == ["spawn+0x10 (init.c:59)"]


def test_a_glance_that_came_last_leaves_the_latest_full_read_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Glancing()
    use(monkeypatch, lambda request: probe)
    # Three samples planned, the limit cuts them short after the glance.
    slow = AutopsySettings(samples=3, span=1.2, limit=1.0)
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, slow, Names())
    assert probe.kinds == ["full", "glance"], probe.kinds
    assert autopsy.harts[0].state is not None and autopsy.harts[0].state.instret == 1000
    assert [s.instret for s in autopsy.harts[0].samples] == [1000, 2000]


def test_a_backend_that_hangs_is_left_behind_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    class Hung(Scripted):
        def read_harts(self) -> tuple[HartState | HartMissing, ...]:
            time.sleep(30)
            return ()

    use(monkeypatch, lambda request: Hung())
    started = time.monotonic()
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, AutopsySettings(limit=0.3))
    assert time.monotonic() - started < 2.0
    assert autopsy.diagnosis.summary == "autopsy unavailable: the fake backend did not answer within 0.3 s"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AutopsyUnavailable("no control socket"), "autopsy unavailable: no control socket"),
        (RuntimeError("boom\nTraceback (most recent call last)"), "autopsy unavailable: RuntimeError: boom Traceback"),
    ],
)
def test_every_failure_is_one_reason_line(monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str) -> None:
    def opener(request: Request) -> Probe:
        raise error

    use(monkeypatch, opener)
    autopsy = take_autopsy(FakeTarget(), FAKE_BOARD, FAST)
    assert not autopsy.available and autopsy.diagnosis.summary.startswith(reason)
    assert "\n" not in autopsy.diagnosis.summary


def test_the_serial_board_says_it_needs_a_jtag_section() -> None:
    board = Board(name="unmatched", path=Path("unmatched.toml"), target="serial")
    autopsy = take_autopsy(FakeTarget(), board, FAST)
    assert autopsy.diagnosis.summary == "autopsy unavailable: no [jtag] section"


def test_a_kind_without_a_backend_says_so() -> None:
    board = Board(name="semu", path=Path("semu.toml"), target="process")
    summary_line = take_autopsy(FakeTarget(), board, FAST).diagnosis.summary
    assert summary_line.startswith("autopsy unavailable: target kind 'process' has no autopsy backend")


def wedge_plan(autopsy: AutopsySettings = FAST) -> Plan:
    return Plan(
        name="fake-plan",
        path=Path("fake-plan.toml"),
        description="",
        silence=0.3,
        timeout=20.0,
        milestones=(
            Milestone(name="banner", expect=re.compile("OpenSBI v"), within=5.0),
            Milestone(name="prompt", expect=re.compile("=> $", re.MULTILINE), within=5.0),
        ),
        fails=standard_fails(),
        resets=(),
        autopsy=autopsy,
    )


def test_the_runner_takes_it_after_the_verdict_and_before_power_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = FakeTarget(boot="OpenSBI v1.2\r\n")
    probe = Scripted(target)
    use(monkeypatch, lambda request: probe)
    result = Runner(prepare(wedge_plan(), FAKE_BOARD), out_dir=tmp_path / "run", target=target).run()
    assert result.verdict.kind is Kind.WEDGE
    assert probe.powered_at_read == [True] * 5 and not target.powered
    # The verdict's time is the silence's, not moved by the autopsy that followed.
    assert result.verdict.at < result.verdict.last_lines[-1][0] + 0.3 + 1.0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["autopsy"]["kind"] == "deadlock" and report["autopsy"]["samples"] == 5
    # The fake board has no image slots, so no symbol files: the pcs stay numbers.
    assert report["autopsy"]["harts"][0]["class"] == "spinning" and report["autopsy"]["harts"][0]["where"] is None
    text = summary(result)
    assert "autopsy (scripted," in text and "hart 1  M  pc 0x8000030" in text
    assert 'id="autopsy"' in (tmp_path / "run" / "report.html").read_text()
    assert "autopsy (scripted," in (tmp_path / "run" / "junit.xml").read_text()
    assert "OpenSBI v1.2" in (tmp_path / "run" / "console.log").read_text()


def test_a_plan_can_turn_it_off_and_a_pass_takes_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    probe = Scripted()
    use(monkeypatch, lambda request: probe)
    off = Runner(
        prepare(wedge_plan(AutopsySettings(enabled=False)), FAKE_BOARD), out_dir=tmp_path / "off", target=FakeTarget()
    )
    assert off.run().autopsy is None
    passing = Runner(
        prepare(wedge_plan(), FAKE_BOARD), out_dir=tmp_path / "pass", target=FakeTarget(boot="OpenSBI v1\r\n=> ")
    )
    assert passing.run().verdict.kind is Kind.PASS and passing.result is not None and passing.result.autopsy is None
    assert probe.reads == 0
    assert "autopsy" not in json.loads((tmp_path / "pass" / "report.json").read_text())


def test_the_recorded_autopsy_is_shown_by_compare_and_bisect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use(monkeypatch, lambda request: Scripted())
    result = Runner(
        prepare(wedge_plan(), FAKE_BOARD), out_dir=tmp_path / "run", target=FakeTarget(boot="OpenSBI v1\r\n")
    ).run()
    run = load_run(tmp_path / "run")
    assert run.autopsy is not None and run.autopsy.diagnosis == result.autopsy.diagnosis  # type: ignore[union-attr]
    text = table(compare([Column("a", run), Column("b", run)]))
    assert text.count("autopsy (scripted,") == 2
    lines = culprit_autopsy(str(tmp_path / "run"))
    assert lines and "deadlock: harts 0 and 1 spin waiting on memory" in lines[0]
    assert culprit_autopsy(str(tmp_path / "gone")) == ()
    answer = Answer.from_dict(
        {"status": "found", "reason": "", "first_bad": "b7", "last_good": "b6", "remaining": [], "signature": "x",
         "last_lines": [], "total_boots": 3, "endpoint_boots": 2, "candidate_boots": 1, "wall_seconds": 1.0,
         "confidence": 0.99, "hang_rate": 1.0, "deterministic": True, "seed": 1, "out": str(tmp_path),
         "autopsy": list(lines)},
        [],
    )  # fmt: skip
    assert "the culprit's autopsy:" in answer.text() and lines[0] in answer.text()
    assert 'id="autopsy"' in render(answer, tmp_path)
