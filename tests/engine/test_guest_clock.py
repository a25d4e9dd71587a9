"""The console engine on a target's guest clock: silence, deadlines and typing in guest seconds.

The transport here is a script in this process (bytes and guest-time reports in the order a
target sends them), so each case is exact and quick; tests/emulator/test_guest_clock_wedge.py
runs the same engine against the real emulator.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from pathlib import Path

import pytest

import harness.engine.console
from harness.analysis.playback import Playback, load_recording
from harness.engine.console import Closed, Console, ConsoleFiles, Matched, Quiet, TimedOut, Watch
from harness.engine.guest_clock import GuestArrivals, GuestClockSource, GuestMark, GuestTimeline, parse_mark
from harness.engine.watch_kind import WatchKind
from harness.errors import TransportClosed
from harness.targets.emulator import GuestClockTransport

NS = 1_000_000_000


def report(guest: float, out: int, taken: int = 0) -> str:
    return GuestMark(guest, out, taken).as_text()


class GuestScript:
    """A target that prints and reports guest time as scripted: ``(bytes, [report lines])`` per read.

    Reports come with the read they are listed with (the emulator writes them before its bytes);
    typed bytes are counted and, with ``taken_after``, reported as read at a later guest time.
    """

    fallback_scale = 25.0

    def __init__(self, steps: list[tuple[bytes, list[str]]], pause: float = 0.01) -> None:
        self._steps = deque(steps)
        self._marks: list[str] = []
        self._pause = pause
        self.typed = bytearray()
        self.on_typed: list[str] = []
        self.lock = threading.Lock()

    def read(self, size: int, timeout: float) -> bytes:
        time.sleep(self._pause)
        with self.lock:
            if not self._steps:
                return b""
            data, marks = self._steps.popleft()
            self._marks += marks
            return data

    def guest_marks(self) -> list[str]:
        with self.lock:
            marks, self._marks = self._marks, []
            return marks

    def write(self, data: bytes) -> None:
        with self.lock:
            self.typed += data
            self._steps.extend((b"", [line]) for line in self.on_typed)

    def close(self) -> None:
        raise TransportClosed("closed")

    def add(self, steps: list[tuple[bytes, list[str]]]) -> None:
        with self.lock:
            self._steps.extend(steps)


def watch(pattern: str) -> Watch:
    return Watch(pattern, WatchKind.EXPECT, re.compile(pattern, re.MULTILINE))


def live(script: GuestScript, folder: Path | None = None) -> Console:
    console = Console(script, ConsoleFiles.open(folder) if folder else None)
    console.start()
    console.mark_power_on()
    return console


def test_a_report_counts_once_the_bytes_printed_before_it_are_read() -> None:
    timeline = GuestTimeline()
    timeline.add(report(1.0, 4), 0.1)
    timeline.add(report(2.0, 8), 0.1)
    # Reported, not read yet: the harness does not run ahead of what it has seen.
    assert timeline.now(0.2) == 0.0
    assert timeline.pieces(b"abcdef", 0.3) == [(b"abcd", 1.0), (b"ef", 2.0)]
    assert timeline.now(0.3) == 1.0
    assert timeline.pieces(b"gh", 0.4) == [(b"gh", 2.0)]
    assert timeline.now(0.4) == 2.0
    assert timeline.host_time(2.0) == 0.3


@pytest.mark.parametrize(
    ("second", "why"),
    [(report(0.5, 0), "went backwards"), ("12 x 0", "garbled"), ("", "garbled"), ("1 2", "garbled")],
)
def test_a_backwards_or_garbled_report_hands_over_to_the_host_clock(second: str, why: str) -> None:
    timeline = GuestTimeline(fallback_scale=10.0)
    timeline.add(report(3.0, 0), 1.0)
    assert timeline.now(1.0) == 3.0 and timeline.fault is None
    timeline.add(second, 2.0)
    assert timeline.fault is not None and why in timeline.fault
    # From the last good report on at the host's pace over the fallback scale, never backwards.
    assert timeline.now(2.0) == 3.0
    assert timeline.now(12.0) == pytest.approx(4.0)
    # Later reports are ignored, good or not.
    timeline.add(report(100.0, 0), 13.0)
    assert timeline.now(12.0) == pytest.approx(4.0)
    assert parse_mark(report(1.5, 7, 2)) == GuestMark(1.5, 7, 2)


def test_a_deadlock_is_a_wedge_as_soon_as_the_guest_clock_passes_the_silence() -> None:
    # The guest prints, then its clock races 30 guest seconds ahead in a few host milliseconds.
    steps = [(b"boot: up\n", [report(0.5, 9)])]
    steps += [(b"", [report(0.5 + 3 * i, 9)]) for i in range(1, 11)]
    console = live(GuestScript(steps))
    assert isinstance(console.wait_for([watch("boot: up")], silence=1.0), Matched)
    started = time.monotonic()
    outcome = console.wait_for([watch("never")], silence=20.0, deadline=60.0, quiet_from=0.5)
    # Judged on the guest's timeline: quiet from 0.5 s, so the silence ran out at 20.5 s.
    assert isinstance(outcome, Quiet)
    assert outcome.t == pytest.approx(20.5)
    assert time.monotonic() - started < 5.0  # host seconds: the guest's 20 s took milliseconds
    assert console.now() >= 20.5
    assert console.guest_clock and console.clock_note is None
    console.stop()


def test_a_line_printed_before_the_limit_wins_however_late_it_is_read() -> None:
    steps = [(b"a\n", [report(1.0, 2)]), (b"", [report(10.0, 2)])]
    # Printed at guest 10.9 s: within a 10 s silence counted from 1.0 s.
    steps += [(b"found it\n", [report(10.9, 11)]), (b"", [report(40.0, 11)])]
    console = live(GuestScript(steps, pause=0.05))
    console.wait_for([watch("^a$")], silence=10.0)
    time.sleep(0.5)  # the matcher looks only after everything has been read
    outcome = console.wait_for([watch("found it")], silence=10.0, quiet_from=1.0)
    assert isinstance(outcome, Matched) and outcome.t == pytest.approx(10.9)
    console.stop()


def test_a_line_printed_after_the_limit_loses_even_if_read_at_once() -> None:
    steps = [(b"a\n", [report(1.0, 2)]), (b"too late\n", [report(11.5, 11)])]
    console = live(GuestScript(steps))
    console.wait_for([watch("^a$")], silence=10.0)
    time.sleep(0.3)
    outcome = console.wait_for([watch("too late")], silence=10.0, quiet_from=1.0)
    assert isinstance(outcome, Quiet) and outcome.t == pytest.approx(11.0)
    console.stop()


def test_a_deadline_is_guest_seconds_while_output_keeps_coming() -> None:
    steps = [(b"tick\n", [report(0.5 * i, 5 * i)]) for i in range(1, 30)]
    console = live(GuestScript(steps))
    outcome = console.wait_for([watch("never")], silence=5.0, deadline=4.0)
    assert isinstance(outcome, TimedOut) and outcome.t == 4.0
    console.stop()


def test_typing_counts_from_the_guest_moment_the_target_took_the_bytes(tmp_path: Path) -> None:
    # The prompt, then the guest's clock moves on while it waits for input.
    steps = [(b"=> ", [report(1.0, 3)]), (b"", [report(1.01, 3)])]
    script = GuestScript(steps)
    # The guest's clock runs 30 s on before it reads what was typed (a host that was slow to
    # deliver it); the silence must count from the moment it took the bytes, not from the typing.
    script.on_typed = [report(31.0, 3, 0), report(31.0, 3, 4)]
    console = live(script, tmp_path)
    console.wait_for([watch("=> ")], silence=10.0)
    console.send("ver\r")
    assert script.typed == b"ver\r"
    assert console.now() == 31.0
    script.add([(b"", [report(40.0, 3, 4)]), (b"", [report(45.0, 3, 4)])])
    outcome = console.wait_for([watch("never")], silence=10.0, quiet_from=console.now())
    assert isinstance(outcome, Quiet) and outcome.t == pytest.approx(41.0)
    console.stop()
    # The recording replays to the same decisions on the same guest times.
    playback = Playback(load_recording(tmp_path))
    again = playback.console()
    assert isinstance(again.wait_for([watch("=> ")], silence=10.0), Matched)
    again.send("ver\r")
    assert again.now() == 31.0
    replayed = again.wait_for([watch("never")], silence=10.0, quiet_from=again.now())
    assert isinstance(replayed, Quiet) and replayed.t == pytest.approx(41.0)
    assert "[    1.000000] => " in (tmp_path / "console.log").read_text()


def test_a_guest_clock_that_stops_is_the_emulator_stalling_not_a_wedge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.engine.console, "STALL_LIMIT", 0.3)
    console = live(GuestScript([(b"up\n", [report(2.0, 3)])]))
    console.wait_for([watch("up")], silence=1.0)
    outcome = console.wait_for([watch("never")], silence=20.0, quiet_from=2.0)
    assert isinstance(outcome, Closed) and outcome.harness_side
    assert "guest clock stopped at 2.000 s" in outcome.reason and "not a wedge" in outcome.reason
    console.stop()


class StarvedScript(GuestScript):
    """A scripted target whose process waits for a CPU for the first ``starved_for`` host seconds
    after :meth:`starve` (as the emulator on a loaded host), then runs (or hangs) on a CPU."""

    def __init__(self, steps: list[tuple[bytes, list[str]]]) -> None:
        super().__init__(steps)
        self.since: float | None = None
        self.starved_for = 0.0

    def starve(self, seconds: float) -> None:
        self.since, self.starved_for = time.monotonic(), seconds

    def starved(self) -> float | None:
        if self.since is None:
            return 0.0
        return min(time.monotonic() - self.since, self.starved_for)


def test_the_time_a_target_waited_for_a_cpu_is_not_a_stall() -> None:
    timeline = GuestTimeline()
    timeline.start(0.0)
    timeline.add(report(1.0, 0), 1.0)
    timeline.starved.add(4.0, 2.0)
    assert timeline.stalled(11.0) == 10.0 - 4.0
    timeline.starved.add(9.0, 3.0)
    assert timeline.stalled(11.0) == 1.0 and timeline.starved_since_moved() == 9.0
    # The clock moves: the stall counts from there, and so does the starvation.
    timeline.add(report(2.0, 0), 12.0)
    assert timeline.stalled(13.0) == 1.0 and timeline.starved_since_moved() == 0.0
    # A smaller sample is a new process (a power cycle): all of it is new starvation.
    timeline.starved.add(0.5, 12.5)
    assert timeline.stalled(13.0) == 0.5 and timeline.starved.total == 9.5


def test_a_starved_target_is_not_called_hung_and_its_replay_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness.engine.console, "STALL_LIMIT", 0.3)
    script = StarvedScript([(b"up\n", [report(2.0, 3)])])
    console = live(script, tmp_path)
    assert isinstance(console.wait_for([watch("up")], silence=5.0), Matched)
    # Waiting for a CPU for 1 s: three stall limits of host time, none of them a stall; then
    # the clock stays stopped with the process on a CPU: that is a hung emulator.
    script.starve(1.0)
    started = time.monotonic()
    outcome = console.wait_for([watch("never")], silence=20.0, quiet_from=2.0)
    assert time.monotonic() - started >= 1.0
    assert isinstance(outcome, Closed) and outcome.harness_side
    assert "guest clock stopped at 2.000 s" in outcome.reason
    assert re.search(r"not counting 1 s it waited for a CPU \(the emulator hung\)", outcome.reason), outcome.reason
    console.stop()
    assert any(line.startswith("w ") for line in (tmp_path / "console.timing").read_text().splitlines())
    again = Playback(load_recording(tmp_path)).console()
    assert isinstance(again.wait_for([watch("up")], silence=5.0), Matched)
    replayed = again.wait_for([watch("never")], silence=20.0, quiet_from=2.0)
    # The same decision at the same guest time (the host seconds in the reason are rounded from
    # a live moment a little past the limit, and the replay's exact one).
    assert isinstance(replayed, Closed) and (replayed.t, replayed.harness_side) == (outcome.t, True)
    assert "waited for a CPU (the emulator hung)" in replayed.reason


class HeldScript(StarvedScript):
    """A target starved for ``starve_for`` s from its first output on, read by a harness that is
    starved too: the reader's read after that output is held off for ``hold`` s."""

    def __init__(self, steps: list[tuple[bytes, list[str]]], starve_for: float, hold: float) -> None:
        super().__init__(steps)
        self._plan: tuple[float, float] | None = (starve_for, hold)
        self._held = 0.0

    def read(self, size: int, timeout: float) -> bytes:
        held, self._held = self._held, 0.0
        time.sleep(held)
        data = super().read(size, timeout)
        if data and self._plan is not None:
            # From the moment the guest clock last moves: the test's own pace does not matter.
            (starve_for, self._held), self._plan = self._plan, None
            self.starve(starve_for)
        return data


def test_a_stall_limit_reached_while_the_reader_lags_replays_to_the_live_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness.engine.console, "STALL_LIMIT", 0.3)
    # After "up" the emulator waits for a CPU for 1 s, and the harness's reader is held off for
    # the first 0.6 s of it: the stall limit runs out before the reader has looked at the
    # starvation. Live, the engine waits for the reader, learns the emulator was starved, goes on.
    script = HeldScript([(b"up\n", [report(2.0, 3)])], starve_for=1.0, hold=0.6)
    console = live(script, tmp_path)
    assert isinstance(console.wait_for([watch("up")], silence=5.0), Matched)
    outcome = console.wait_for([watch("never")], silence=20.0, quiet_from=2.0)
    assert isinstance(outcome, Closed) and outcome.harness_side
    assert re.search(r"not counting 1 s it waited for a CPU", outcome.reason), outcome.reason
    console.stop()
    # The replay plays on to the reader's next reading as the live engine waited for it: the
    # same decision (before, it declared the stall at 0.3 s, "not counting" nothing).
    again = Playback(load_recording(tmp_path)).console()
    assert isinstance(again.wait_for([watch("up")], silence=5.0), Matched)
    replayed = again.wait_for([watch("never")], silence=20.0, quiet_from=2.0)
    assert isinstance(replayed, Closed) and replayed.t == outcome.t
    assert re.search(r"not counting 1 s it waited for a CPU", replayed.reason), replayed.reason


def test_a_garbled_report_mid_run_goes_on_in_host_time_with_a_note() -> None:
    script = GuestScript([(b"up\n", [report(2.0, 3)]), (b"", ["2.5 seconds"])])
    console = live(script)
    console.wait_for([watch("up")], silence=1.0)
    time.sleep(0.2)
    assert console.clock_note is not None and "garbled" in console.clock_note
    # 25 host seconds per guest second from there: 0.02 guest s of silence is 0.5 host s.
    started = time.monotonic()
    outcome = console.wait_for([watch("never")], silence=0.02, quiet_from=2.0)
    assert isinstance(outcome, Quiet)
    assert 0.2 < time.monotonic() - started < 10.0
    console.stop()


def test_the_emulator_transport_hands_over_whole_report_lines(tmp_path: Path) -> None:
    transport = GuestClockTransport(25.0)
    assert isinstance(transport, GuestClockSource) and transport.guest_marks() == []
    feed = tmp_path / "run" / "guest-clock"
    feed.parent.mkdir()
    feed.write_bytes(b"1000 0 0\n2000 5")
    transport.path = feed
    assert transport.guest_marks() == ["1000 0 0"]
    with feed.open("ab") as handle:
        handle.write(b" 0\n")
    assert transport.guest_marks() == ["2000 5 0"]
    transport.release()
    assert not feed.parent.exists()


def test_a_silence_in_guest_time_ends_at_the_first_gap_long_enough() -> None:
    arrivals = GuestArrivals()
    for t in (1.0, 1.5, 4.0):
        arrivals.add(t)
    assert arrivals.last == 4.0
    # The gap from 1.5 to 4.0 is the first one of 2 s: the silence ran out at 3.5, however late asked.
    assert arrivals.quiet_end(0.0, 2.0, now=9.0) == 3.5
    # The next step's silence counts from its own start, with output still coming.
    assert arrivals.quiet_end(4.0, 2.0, now=5.0) is None
    arrivals.add(5.5)
    assert arrivals.quiet_end(4.0, 2.0, now=7.0) is None
    assert arrivals.quiet_end(4.0, 2.0, now=7.5) == 7.5
