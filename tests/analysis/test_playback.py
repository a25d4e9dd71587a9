"""Replay on a FakeTarget: the recorded clock reproduces what the live clock decided, in milliseconds."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from harness.analysis.playback import Playback, RecordingError, load_recording
from harness.analysis.replay import replayable
from harness.engine.recorder import Mark
from harness.engine.verdict import Kind
from harness.model.board import Board
from harness.model.plan import Milestone, Plan, standard_fails
from harness.records.run_folder import load_run
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.run.signals import INTERRUPTED, Interrupted, signals_raise
from harness.targets.fake import FakeTarget

BOARD = Board(name="fake-board", path=Path("fake-board.toml"), target="fake")


def plan(silence: float) -> Plan:
    steps = (
        Milestone("banner", re.compile("OpenSBI v"), 5.0),
        Milestone("uboot", re.compile("^U-Boot 20", re.MULTILINE), 5.0),
    )
    return Plan("p", Path("p.toml"), "", silence, 20.0, steps, standard_fails(), ())


class SlowPowerOn(FakeTarget):
    """A power switch that takes its time: the boot starts printing only once it is done."""

    def power_on(self) -> None:
        time.sleep(0.4)
        super().power_on()


def replayed(folder: Path, silence: float) -> tuple[Kind, list[str]]:
    console = Playback(load_recording(folder)).console()
    result = Runner(prepare(plan(silence), BOARD), out_dir=folder).replay_on(console)
    return result.verdict.kind, [m.name for m in result.milestones]


def test_silence_counts_from_the_end_of_a_slow_power_on(tmp_path):
    live = Runner(
        prepare(plan(0.3), BOARD), out_dir=tmp_path, target=SlowPowerOn(boot="OpenSBI v1.2\r\nU-Boot 2023.01\r\n")
    ).run()
    assert live.verdict.kind is Kind.PASS, live.verdict.reason
    assert live.milestones[0].t >= 0.4
    assert replayed(tmp_path, 0.3) == (Kind.PASS, ["banner", "uboot"])


def test_a_wedge_replays_as_a_wedge_and_a_new_silence_moves_it(tmp_path):
    live = Runner(prepare(plan(0.3), BOARD), out_dir=tmp_path, target=FakeTarget(boot="OpenSBI v1.2\r\n")).run()
    assert live.verdict.kind is Kind.WEDGE
    assert replayed(tmp_path, 0.3) == (Kind.WEDGE, ["banner"])
    # The recording stops at the live wedge (0.3 s of silence): a longer silence cannot be judged
    # beyond it, and the replay says the recording ended.
    kind, names = replayed(tmp_path, 5.0)
    assert names == ["banner"] and kind is Kind.ERROR


def test_a_run_stopped_by_a_signal_is_not_replayed_as_a_judgement(tmp_path):
    # SIGTERM stopped the wait for `uboot`; a console that went on printing U-Boot before the
    # power-off would make a replay pass the milestone the live run never judged.
    target = FakeTarget(boot="OpenSBI v1.2\r\n")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    with signals_raise(), pytest.raises(Interrupted):
        Runner(prepare(plan(5.0), BOARD), out_dir=tmp_path, target=target).run()
    timer.join()
    run = load_run(tmp_path)
    assert run.kind == Kind.ERROR.value and str(run.verdict["reason"]).startswith(INTERRUPTED)
    why = replayable(run)
    assert why is not None and "stopped by a signal" in why


# A live wedge recorded in the suite: the prompt at 0.0568 s, its 50 ms settle, and the command
# typed 0.7 ms after that (pexpect no longer sleeps before sending), then 4 s of silence.
TYPED_RIGHT_AFTER_THE_SETTLE = """\
p 0.000000000
o 0.003872942
d 0.056754518 3
s 0.107499236 8
j 4.108001551
c 4.114549570 process killed by signal 15
e 4.132626935
"""


def test_typing_right_after_a_prompt_settle_replays_in_order(tmp_path):
    # A replay that rounded its waits up to 1 ms stepped over that typing, played the rest of
    # the recording early and saw the console close instead of the silence.
    (tmp_path / "console.raw").write_bytes(b"=> ")
    (tmp_path / "console.timing").write_text(TYPED_RIGHT_AFTER_THE_SETTLE)
    steps = (
        Milestone("prompt", re.compile("=> $", re.MULTILINE), 5.0),
        Milestone("version", re.compile("^U-Boot 20", re.MULTILINE), 5.0, send="version"),
    )
    quiet = Plan("p", Path("p.toml"), "", 4.0, 30.0, steps, standard_fails(), ())
    console = Playback(load_recording(tmp_path)).console()
    again = Runner(prepare(quiet, BOARD), out_dir=tmp_path).replay_on(console)
    assert again.verdict.kind is Kind.WEDGE, again.verdict.reason


def test_a_read_stamped_before_the_power_on_s_end_replays_at_its_own_time(tmp_path: Path) -> None:
    # Recorded in the suite: the boot's first read returned at 0.0892 s, but the power-on's end
    # (0.0911 s) took the console's lock first and was written before it. The replay put the
    # milestones at 0.0911 s, the live run at 0.0892 s.
    boot = b"OpenSBI v1.2\r\nU-Boot 2023.01\r\n"
    (tmp_path / "console.raw").write_bytes(boot)
    (tmp_path / "console.timing").write_text(
        f"p 0.000000000\no 0.091148335\nd 0.089177587 {len(boot)}\nc 0.181850329 gone\ne 0.199595907\n"
    )
    console = Playback(load_recording(tmp_path)).console()
    again = Runner(prepare(plan(5.0), BOARD), out_dir=tmp_path).replay_on(console)
    assert again.verdict.kind is Kind.PASS, again.verdict.reason
    assert [round(m.t, 9) for m in again.milestones] == [0.089177587, 0.089177587]


def test_a_timing_file_is_read_as_marks_and_unclaimed_bytes_come_last(tmp_path: Path) -> None:
    (tmp_path / "console.raw").write_bytes(b"OpenSBI v1\nU-Boot")
    (tmp_path / "console.timing").write_text("p 0.000000000\nd 0.100000000 10\nj 0.200000000\nk 0.0 2.5\n")
    recording = load_recording(tmp_path)
    assert recording.exact
    assert [(e.kind, e.t, e.data, e.detail) for e in recording.events] == [
        (Mark.POWER_ON, 0.0, b"", ""),
        (Mark.DATA, 0.1, b"OpenSBI v1", ""),
        (Mark.JUDGED, 0.2, b"", ""),
        (Mark.GUEST_CLOCK, 0.0, b"", "2.5"),
        (Mark.DATA, 0.0, b"\nU-Boot", ""),  # a run killed mid-read: the bytes without their line
    ]


@pytest.mark.parametrize("line", ["x 0.1", "d soon 3", "d 0.1 many"])
def test_a_bad_timing_line_names_the_file_and_line(tmp_path: Path, line: str) -> None:
    (tmp_path / "console.raw").write_bytes(b"abc")
    (tmp_path / "console.timing").write_text(f"p 0.0\n{line}\n")
    with pytest.raises(RecordingError, match=rf"console.timing:2: expected `KIND SECONDS \[DETAIL\]`, got '{line}'"):
        load_recording(tmp_path)


def test_without_timing_the_log_gives_whole_lines_after_power_on(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no console recording"):
        load_recording(tmp_path)
    (tmp_path / "console.log").write_text("[    0.500] OpenSBI v1\n[    1.250] U-Boot\n")
    recording = load_recording(tmp_path)
    assert not recording.exact
    assert [(e.kind, e.t, e.data) for e in recording.events] == [
        (Mark.POWER_ON, 0.0, b""),
        (Mark.DATA, 0.5, b"OpenSBI v1\n"),
        (Mark.DATA, 1.25, b"U-Boot\n"),
    ]
