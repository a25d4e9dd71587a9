"""The console engine on a real pipe: line semantics, partial lines, priorities, bounded memory."""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analysis.playback import Playback, load_recording
from harness.engine import console as engine
from harness.engine import matcher
from harness.engine.clock import RealClock
from harness.engine.console import Closed, Console, ConsoleFiles, Matched, Quiet, TimedOut, Watch
from harness.errors import TransportClosed


class PipeTransport:
    """A console transport over an OS pipe: the test writes, the engine reads."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def read(self, size: int, timeout: float) -> bytes:
        ready, _, _ = select.select([self.read_fd], [], [], timeout)
        if not ready:
            return b""
        data = os.read(self.read_fd, size)
        if not data:
            raise TransportClosed("pipe closed")
        return data

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        os.close(self.read_fd)

    def feed(self, data: bytes) -> None:
        os.write(self.write_fd, data)


@pytest.fixture
def pipe(tmp_path: Path):
    transport = PipeTransport()
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files)
    console.start()
    yield transport, console
    os.close(transport.write_fd)
    console.stop()
    files.close()


def expect(pattern: str, kind: str = "expect", partial: bool = True) -> Watch:
    return Watch(pattern, kind, re.compile(pattern, re.MULTILINE), partial)


def test_prompt_on_unfinished_line_matches(pipe) -> None:
    transport, console = pipe
    transport.feed(b"U-Boot 2023.01\r\n=> ")
    hit = console.wait_for([expect(r"=> $")], deadline=5)
    assert isinstance(hit, Matched) and hit.line == "=> "


def _wait_for_lines(console: Console, total: int) -> None:
    deadline = time.monotonic() + 5
    while console.line_total < total and time.monotonic() < deadline:
        time.sleep(0.01)
    assert console.line_total >= total


def test_a_prompt_s_evidence_is_the_line_as_matched_whatever_completed_it_since(pipe) -> None:
    transport, console = pipe
    transport.feed(b"U-Boot 2023.01\r\n=> ")
    hit = console.wait_for([expect(r"=> $")], deadline=5)
    assert isinstance(hit, Matched) and hit.open_line
    # The reader goes on: the prompt's line is completed and more follows before the evidence.
    transport.feed(b"[ 5.1] a kernel message\r\nmore\r\n")
    _wait_for_lines(console, 3)
    assert [line for _t, line in console.lines_through(hit, 20)] == ["U-Boot 2023.01", "=> "]


def test_a_matched_line_the_ring_no_longer_holds_is_still_the_evidence(pipe) -> None:
    transport, console = pipe
    burst = b"reset banner\r\n" + b"".join(b"line %d\r\n" % i for i in range(matcher.HISTORY_LINES + 50))
    transport.feed(burst)
    hit = console.wait_for([expect(r"^reset banner$")], deadline=5)
    assert isinstance(hit, Matched) and not hit.open_line
    _wait_for_lines(console, matcher.HISTORY_LINES + 51)
    assert console.lines_through(hit, 20) == [(hit.t, "reset banner")]


class FeedingAtDecisionClock(RealClock):
    """The host's clock, which has the target print one more line as the engine decides."""

    def __init__(self, transport: PipeTransport) -> None:
        self.transport = transport

    def judged(self) -> None:
        self.transport.feed(b"after the decision\r\n")


def test_a_deadline_s_evidence_is_the_console_at_the_decision(tmp_path: Path) -> None:
    # The reader reads on once the engine has decided; what it reads then is not the evidence
    # (a replay, which stops at the recorded decision, would not have it).
    transport = PipeTransport()
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files, clock=FeedingAtDecisionClock(transport))
    console.start()
    try:
        transport.feed(b"U-Boot 2023.01\r\nbefore the decision\r\n")
        outcome = console.wait_for([expect("never")], deadline=0.3)
        assert isinstance(outcome, TimedOut)
        _wait_for_lines(console, 3)
        assert console.last_lines()[-1][1] == "after the decision"
        judged = console.judged
        assert judged is not None and judged.line_total == 2
        assert [line for _t, line in judged.lines] == ["U-Boot 2023.01", "before the decision"]
        assert judged.now <= outcome.t + 0.05
    finally:
        os.close(transport.write_fd)
        console.stop()
        files.close()


def test_unfinished_line_is_not_captured_half_way(pipe) -> None:
    transport, console = pipe

    def later() -> None:
        transport.feed(b"Platform Name : ri")
        time.sleep(0.02)
        transport.feed(b"scv-virtio,qemu\r\n")

    threading.Thread(target=later).start()
    hit = console.wait_for([expect(r"^Platform Name\s*: (?P<p>.+?)\s*$")], deadline=5)
    assert isinstance(hit, Matched) and hit.groups == {"p": "riscv-virtio,qemu"}


class StepClock:
    """A clock that moves on a millisecond per wait, so how long a match waited is exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        cond.wait(0.002)
        self.now += 0.001

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def judged(self) -> None:
        pass

    def switched_off(self) -> bool:
        return False

    def reader_lagged(self, since: float) -> bool:
        return False

    def looked(self, t: float) -> bool:
        return False


@pytest.mark.parametrize("settle", [True, False])
def test_a_prompt_answered_by_typing_does_not_wait_for_the_pause(settle: bool) -> None:
    transport = PipeTransport()
    clock = StepClock()
    console = Console(transport, None, clock=clock)
    console.mark_power_on()
    console.ingest(b"U-Boot 2023.01\r\n=> ", clock.monotonic())
    prompt = Watch("p", "prompt", re.compile(r"=> $", re.MULTILINE), settle=settle)
    hit = console.wait_for([prompt], deadline=5)
    assert isinstance(hit, Matched) and hit.line == "=> "
    # Settling waits out the 50 ms pause; a prompt the harness answers by typing is taken at once.
    assert (console.now() >= 0.05) is settle
    os.close(transport.write_fd)
    transport.close()


def test_an_answer_read_before_its_typing_was_recorded_is_stamped_at_the_typing(tmp_path: Path) -> None:
    """The reader reads the clock before it takes the lock; a typist descheduled between its
    write and its ``s`` record would leave the answer stamped before the typing it answers, and
    a replay, which plays up to the ``s`` event first, would time the milestone later than live."""
    transport = PipeTransport()
    clock = StepClock()
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files, clock=clock)
    console.mark_power_on()
    clock.now = 0.015  # the typist's reading, taken after the write
    console.send("echo\n")
    console.ingest(b"got:echo\n", 0.010)  # the reader's reading, taken before the lock
    hit = console.wait_for([expect("^got:echo$", partial=False)], deadline=5)
    assert isinstance(hit, Matched) and hit.t == pytest.approx(0.015)
    files.close()
    events = [line.split() for line in (tmp_path / "console.timing").read_text().splitlines()]
    typed = next(float(e[1]) for e in events if e[0] == "s")
    data = next(float(e[1]) for e in events if e[0] == "d")
    assert data >= typed == pytest.approx(0.015)
    os.close(transport.write_fd)
    transport.close()


def test_a_close_is_timed_by_the_one_reading_it_is_recorded_with(tmp_path: Path) -> None:
    """The close's time and its ``c`` record come from one clock reading, so a replay (which
    takes the recorded one) times an ``off`` step's end exactly as live did."""

    class LateClock(StepClock):
        def monotonic(self) -> float:
            self.now += 0.004  # every reading is later than the one before, as on a loaded host
            return self.now

    transport = PipeTransport()
    clock = LateClock()
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files, clock=clock)
    console.mark_power_on()
    console.end("process exited")
    closed = console.wait_for([expect("never")], deadline=5)
    files.close()
    assert isinstance(closed, Closed)
    recorded = next(
        float(line.split()[1])
        for line in (tmp_path / "console.timing").read_text().splitlines()
        if line.startswith("c ")
    )
    assert closed.t == pytest.approx(recorded)
    os.close(transport.write_fd)
    transport.close()


def test_no_match_across_lines_and_crlf_variants(pipe) -> None:
    transport, console = pipe
    transport.feed(b"alpha\r\r\nbeta\r")
    transport.feed(b"\nalpha   beta\r\n")
    hit = console.wait_for([expect(r"alpha\s+beta$")], deadline=5)
    assert isinstance(hit, Matched) and hit.line == "alpha   beta"
    assert [line for _t, line in console.last_lines(5)] == ["alpha", "beta", "alpha   beta"]


def test_fail_pattern_wins_on_the_same_line_and_earlier_lines_win(pipe) -> None:
    transport, console = pipe
    transport.feed(b"login: Kernel panic - not syncing: boom\r\nlogin: \r\n")
    hit = console.wait_for([expect("Kernel panic", "fail", False), expect("login: ")], deadline=5)
    assert isinstance(hit, Matched) and hit.watch.kind == "fail"
    transport.feed(b"one\r\nKernel panic - not syncing: two\r\n")
    hit = console.wait_for([expect("Kernel panic", "fail", False), expect("^one$")], deadline=5)
    assert isinstance(hit, Matched) and hit.watch.kind == "expect"


def test_matching_continues_after_the_match_on_the_same_line(pipe) -> None:
    transport, console = pipe
    transport.feed(b"Hit any key to stop autoboot:  2 \r\n")
    assert isinstance(console.wait_for([expect("Hit any key")], deadline=5), Matched)
    rest = console.wait_for([expect(r"autoboot:\s+(?P<n>\d)")], deadline=5)
    assert isinstance(rest, Matched) and rest.groups == {"n": "2"}
    again = console.wait_for([expect("Hit any key")], deadline=console.now() + 0.3)
    assert isinstance(again, TimedOut), "a consumed match was found twice"
    transport.feed(b"abc def\r\n")
    first = console.wait_for([expect("abc")], deadline=5)
    second = console.wait_for([expect("def")], deadline=5)
    assert isinstance(first, Matched) and isinstance(second, Matched)


def test_silence_deadline_and_close(pipe) -> None:
    transport, console = pipe
    transport.feed(b"last words\r\n")
    start = time.monotonic()
    outcome = console.wait_for([expect("never")], silence=0.3, deadline=10)
    assert isinstance(outcome, Quiet) and 0.25 < time.monotonic() - start < 0.8
    outcome = console.wait_for([expect("never")], deadline=console.now() + 0.2)
    assert isinstance(outcome, TimedOut)
    os.close(transport.write_fd)
    transport.write_fd = os.open(os.devnull, os.O_WRONLY)
    outcome = console.wait_for([expect("never")], deadline=console.now() + 5)
    assert isinstance(outcome, Closed) and "pipe closed" in outcome.reason


def test_pending_text_is_bounded_and_logs_keep_everything(pipe, tmp_path: Path, monkeypatch) -> None:
    transport, console = pipe
    monkeypatch.setattr(matcher, "PENDING_LIMIT", 64 * 1024)
    line = b"x" * 99 + b"\n"
    for _ in range(20):
        transport.feed(line * 100)
    transport.feed(b"END\n")
    hit = console.wait_for([expect("^END$")], deadline=10)
    assert isinstance(hit, Matched)
    assert console.bytes_received == 20 * 100 * 100 + 4
    time.sleep(0.1)
    assert (tmp_path / "console.raw").stat().st_size == console.bytes_received
    assert (tmp_path / "console.log").read_text().count("\n") == 2001


def test_a_prompt_cut_by_a_kernel_message_still_matches_and_the_text_stays_as_printed(pipe) -> None:
    transport, console = pipe
    transport.feed(b"Debian GNU/Linux 12 unmatched ttySIF0\r\n\r\nunmatched lo")
    transport.feed(b"[   12.345678] random: crng init done\r\ngin: ")
    hit = console.wait_for([expect(r"login: $")], deadline=2)
    assert isinstance(hit, Matched) and hit.line == "unmatched login: ", hit
    # Once only: the same interruption does not satisfy the next prompt wait.
    again = console.wait_for([expect(r"login: $")], deadline=console.now() + 0.3)
    assert isinstance(again, TimedOut)
    transport.feed(b"root\r\n# [   13.000001] EXT4-fs (nvme0n1p2): mounted\r\n")
    hit = console.wait_for([expect(r"^# $")], deadline=2)
    assert isinstance(hit, Matched) and hit.line == "# ", hit
    lines = [line for _t, line in console.last_lines(3)]
    assert lines == [
        "unmatched lo[   12.345678] random: crng init done",
        "gin: root",
        "# [   13.000001] EXT4-fs (nvme0n1p2): mounted",
    ]


def test_log_listings_with_kernel_timestamps_are_not_rewritten(pipe) -> None:
    transport, console = pipe
    transport.feed(
        b"Nov 21 unmatched kernel: [    1.234567] eth0: link up\r\n"
        b"Nov 21 unmatched kernel: [    2.000000] eth0: carrier\r\nroot@unmatched:~# "
    )
    hit = console.wait_for([expect(r"^root@unmatched:~# $")], deadline=2)
    assert isinstance(hit, Matched) and hit.line == "root@unmatched:~# "
    assert next(line for _t, line in console.last_lines(3)).startswith("Nov 21 unmatched kernel: [")


class StarvedTransport(PipeTransport):
    """A pipe whose reader is held off once for ``stall`` s, as a starved host holds a thread off.

    :meth:`release` ends the stall early: a test that has seen what it needs does not wait out
    the rest of it in the console's stop.
    """

    def __init__(self, stall: float) -> None:
        super().__init__()
        self.stall = stall
        self._released = threading.Event()

    def read(self, size: int, timeout: float) -> bytes:
        if self.stall:
            self._released.wait(self.stall)
            self.stall = 0.0
        return super().read(size, timeout)

    def release(self) -> None:
        self._released.set()


@contextlib.contextmanager
def starved_console(folder: Path, stall: float, printed: bytes = b"") -> Iterator[Console]:
    """A recording console whose reader is held off for ``stall`` s from its first read, with
    ``printed`` already waiting in the pipe; closed (the stall ended early) on leaving."""
    transport = StarvedTransport(stall=stall)
    files = ConsoleFiles.open(folder)
    console = Console(transport, files)
    transport.feed(printed)
    console.start()
    try:
        yield console
    finally:
        transport.release()
        os.close(transport.write_fd)
        console.stop()
        files.close()


def lag_lines(folder: Path) -> list[str]:
    """The recorded waits for a lagging reader (``l`` lines of console.timing)."""
    return [line for line in (folder / "console.timing").read_text().splitlines() if line.startswith("l ")]


def test_silence_waits_for_a_starved_reader_before_calling_a_wedge(tmp_path: Path) -> None:
    # The board printed its next line in time, but the reader was held off past the silence: a
    # wedge declared then would be read off an unread pipe. The engine waits for the reader.
    with starved_console(tmp_path, 0.8, b"mounted /usr\r\n") as console:
        hit = console.wait_for([expect("mounted /usr")], silence=0.3)
        assert isinstance(hit, Matched), hit
    # The replay has no reader to wait for: the recorded wait (`l`) makes it play on to what the
    # live reader read next, and it decides alike (without it, it called the silence at 0.3 s).
    assert lag_lines(tmp_path)
    again = Playback(load_recording(tmp_path)).console()
    replayed = again.wait_for([expect("mounted /usr")], silence=0.3)
    assert isinstance(replayed, Matched) and replayed.t == pytest.approx(hit.t, abs=1e-6), (replayed, hit)


def test_a_reader_stuck_past_the_grace_does_not_hold_the_wedge_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Half the grace, so that the fast tier waits for it half as long.
    monkeypatch.setattr(engine, "READER_GRACE", 1.0)
    with starved_console(tmp_path, engine.READER_GRACE + 2.0) as console:
        started = time.monotonic()
        outcome = console.wait_for([expect("never")], silence=0.3)
        waited = time.monotonic() - started
        assert isinstance(outcome, Quiet)
        assert 0.3 + engine.READER_GRACE - 0.1 <= waited < 0.3 + engine.READER_GRACE + 1.0
    # The replay waits for the reader as long as the live run did, then decides the same.
    again = Playback(load_recording(tmp_path)).console()
    replayed = again.wait_for([expect("never")], silence=0.3)
    assert isinstance(replayed, Quiet) and replayed.t == pytest.approx(outcome.t, abs=1e-6), (replayed, outcome)


def test_a_silence_and_a_deadline_that_wait_for_the_same_read_are_recorded_once_and_replay_alike(
    tmp_path: Path,
) -> None:
    # Both limits run out while the reader is held off; the line it then reads passes the step.
    # Each wait is recorded once (not once a look: that flooded console.timing), and the replay
    # plays on to that read whichever limit it meets first.
    with starved_console(tmp_path, 0.9, b"mounted /usr\r\n") as console:
        hit = console.wait_for([expect("mounted /usr")], silence=0.3, deadline=0.5)
        assert isinstance(hit, Matched), hit
    assert len(lag_lines(tmp_path)) == 2, lag_lines(tmp_path)
    again = Playback(load_recording(tmp_path)).console()
    replayed = again.wait_for([expect("mounted /usr")], silence=0.3, deadline=0.5)
    assert isinstance(replayed, Matched) and replayed.t == pytest.approx(hit.t, abs=1e-6), (replayed, hit)


class StarvingPipe(PipeTransport):
    """A pipe whose target's process waits for a CPU for ``seconds`` from :meth:`starve` on (as a
    process target's on a loaded host), as the transport's starvation samples tell the engine."""

    def __init__(self) -> None:
        super().__init__()
        self._since: float | None = None
        self._for = 0.0

    def starve(self, seconds: float) -> None:
        self._since, self._for = time.monotonic(), seconds

    def starved(self) -> float | None:
        if self._since is None:
            return 0.0
        return min(time.monotonic() - self._since, self._for)


@pytest.fixture
def fast_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader polls and samples starvation five times as often: the tests' times are short."""
    monkeypatch.setattr(engine, "READ_TIMEOUT", 0.02)
    monkeypatch.setattr(engine, "STARVED_SAMPLE", 0.02)
    monkeypatch.setattr(engine, "STARVED_STEP", 0.01)


@contextlib.contextmanager
def starving_console(folder: Path) -> Iterator[tuple[StarvingPipe, Console]]:
    """A recording console on a :class:`StarvingPipe` whose target has printed its banner."""
    transport = StarvingPipe()
    files = ConsoleFiles.open(folder)
    console = Console(transport, files)
    transport.feed(b"SIM v7\r\n")
    console.start()
    try:
        yield transport, console
    finally:
        os.close(transport.write_fd)
        console.stop()
        files.close()


def held_off_boot(console: Console, transport: StarvingPipe) -> list[object]:
    """A banner; the target held off the CPU for 0.4 s, then printing its next line; then silent
    on a CPU. The outcomes of the three waits (silence 0.25 s)."""
    outcomes: list[object] = [console.wait_for([expect("SIM v7")], silence=0.25)]
    transport.starve(0.4)
    printed = threading.Timer(0.4, transport.feed, (b"fs-qrv: mounted qrvfs at /usr\r\n",))
    printed.start()
    try:
        outcomes.append(console.wait_for([expect("mounted qrvfs")], silence=0.25))
    finally:
        printed.cancel()
    outcomes.append(console.wait_for([expect("login: ")], silence=0.25))
    return outcomes


def test_the_seconds_a_target_waited_for_a_cpu_are_not_part_of_its_silence(tmp_path: Path, fast_samples: None) -> None:
    # 0.4 s without a byte on the host's clock, but the target could not run: no wedge (before,
    # the engine called one at 0.25 s). Once it runs and prints nothing, the silence is its own.
    with starving_console(tmp_path) as (transport, console):
        banner, mounted, silent = held_off_boot(console, transport)
        judged = console.judged
    assert isinstance(banner, Matched) and isinstance(mounted, Matched), (banner, mounted)
    assert isinstance(silent, Quiet), silent
    assert 0.25 <= silent.t - mounted.t < 0.4, (mounted.t, silent)
    timing = (tmp_path / "console.timing").read_text().splitlines()
    assert any(line.startswith("w ") for line in timing), "the starvation is recorded for a replay"
    # The replay decides alike from the recorded samples.
    again = Playback(load_recording(tmp_path)).console()
    replayed = [again.wait_for([expect(text)], silence=0.25) for text in ("SIM v7", "mounted qrvfs", "login: ")]
    assert isinstance(replayed[1], Matched) and isinstance(replayed[2], Quiet), replayed
    # Decided at the live decision's recorded moment, on the same console (a report's lines).
    decided = float(next(line for line in timing if line.startswith("j ")).split()[1])
    assert judged is not None and again.judged is not None
    assert (again.judged.now, again.judged.line_total) == (pytest.approx(decided, abs=1e-6), judged.line_total)


class StoppedClock(RealClock):
    """The host's clock, as seen by a harness that is stopped (Ctrl-Z, a paused VM) for
    ``stopped`` s at :meth:`stop`: every thread of it finds the time moved on at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def stop(self, stopped: float) -> None:
        self.offset += stopped


def test_a_harness_held_off_waits_for_its_reader_before_calling_a_wedge(tmp_path: Path) -> None:
    # The board printed its next line in time; then the whole harness was stopped for a minute,
    # its reader not yet back when the wait looks again. The silence and the grace for a lagging
    # reader both ran out while it was stopped: the wait gives the reader its grace from when the
    # harness runs again (before, it called a wedge with the line unread in the pipe).
    clock = StoppedClock()
    transport = StarvedTransport(stall=0.6)
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files, clock=clock)
    transport.feed(b"mounted /usr\r\n")
    console.start()
    threading.Timer(0.1, clock.stop, (60.0,)).start()
    try:
        hit = console.wait_for([expect("mounted /usr")], silence=0.3)
    finally:
        transport.release()
        os.close(transport.write_fd)
        console.stop()
        files.close()
    assert isinstance(hit, Matched), hit
    again = Playback(load_recording(tmp_path)).console()
    assert isinstance(again.wait_for([expect("mounted /usr")], silence=0.3), Matched)


def test_a_deadline_leaves_out_the_seconds_the_target_waited_for_a_cpu(tmp_path: Path, fast_samples: None) -> None:
    # The step allows 0.25 s; the target is held off the CPU for 0.4 s of it, then prints the
    # line in its first moment back: in time (before, a timeout at 0.25 s).
    with starving_console(tmp_path) as (transport, console):
        banner = console.wait_for([expect("SIM v7")], deadline=5.0)
        assert isinstance(banner, Matched)
        start = console.now()
        transport.starve(0.4)
        printed = threading.Timer(0.4, transport.feed, (b"fs-qrv: mounted qrvfs at /usr\r\n",))
        printed.start()
        try:
            mounted = console.wait_for([expect("mounted qrvfs")], deadline=start + 0.25, quiet_from=start)
        finally:
            printed.cancel()
    assert isinstance(mounted, Matched), mounted
    again = Playback(load_recording(tmp_path)).console()
    assert isinstance(again.wait_for([expect("SIM v7")], deadline=5.0), Matched)
    replayed = again.wait_for([expect("mounted qrvfs")], deadline=start + 0.25, quiet_from=start)
    assert isinstance(replayed, Matched), replayed


def test_a_target_starved_past_the_most_is_not_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_samples: None
) -> None:
    # Held off the CPU for longer than STARVED_MOST: a limit is put off by that much, no more,
    # and then it is neither a wedge nor a timeout but an error that names the overloaded host.
    monkeypatch.setattr(engine, "STARVED_MOST", 0.2)
    with starving_console(tmp_path) as (transport, console):
        assert isinstance(console.wait_for([expect("SIM v7")], silence=0.3), Matched)
        transport.starve(30.0)
        start = console.now()
        outcome = console.wait_for([expect("never")], silence=0.15, deadline=start + 0.2, quiet_from=start)
        waited = console.now() - start
    assert isinstance(outcome, Closed) and outcome.harness_side, outcome
    assert re.search(r"waited \d+ s or more for a CPU \(an overloaded host\)", outcome.reason), outcome.reason
    assert 0.2 <= waited < 3.0, waited


def test_a_starved_target_that_prints_before_its_limits_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_samples: None
) -> None:
    # Waiting for a CPU longer than STARVED_MOST ends nothing by itself: a slow program that
    # prints its line before its limits run out reaches the milestone.
    monkeypatch.setattr(engine, "STARVED_MOST", 0.15)
    with starving_console(tmp_path) as (transport, console):
        assert isinstance(console.wait_for([expect("SIM v7")], silence=5.0), Matched)
        transport.starve(0.4)
        start = console.now()
        printed = threading.Timer(0.3, transport.feed, (b"fs-qrv: mounted qrvfs at /usr\r\n",))
        printed.start()
        try:
            mounted = console.wait_for([expect("mounted qrvfs")], silence=5.0, deadline=start + 10.0, quiet_from=start)
        finally:
            printed.cancel()
    assert isinstance(mounted, Matched), mounted


def test_a_harness_held_off_whose_reader_reads_first_replays_to_the_live_match(tmp_path: Path) -> None:
    # While the wait sleeps, the whole harness is stopped for a minute; on resuming its reader
    # reads the board's next line before the wait looks again: live, a match. The replay cannot
    # tell the harness was stopped but by the recorded look (`h`): without it, it called the
    # silence that ran out at 0.3 s.
    clock = StoppedClock()
    transport = PipeTransport()
    files = ConsoleFiles.open(tmp_path)
    console = Console(transport, files, clock=clock)
    transport.feed(b"SIM v7\r\n")
    console.start()

    def stopped_then_printed() -> None:
        clock.stop(60.0)
        transport.feed(b"mounted /usr\r\n")

    try:
        assert isinstance(console.wait_for([expect("SIM v7")], silence=0.3), Matched)
        resumed = threading.Timer(0.1, stopped_then_printed)
        resumed.start()
        try:
            hit = console.wait_for([expect("mounted /usr")], silence=0.3)
        finally:
            resumed.cancel()
    finally:
        os.close(transport.write_fd)
        console.stop()
        files.close()
    assert isinstance(hit, Matched), hit
    assert any(line.startswith("h ") for line in (tmp_path / "console.timing").read_text().splitlines())
    again = Playback(load_recording(tmp_path)).console()
    assert isinstance(again.wait_for([expect("SIM v7")], silence=0.3), Matched)
    replayed = again.wait_for([expect("mounted /usr")], silence=0.3)
    assert isinstance(replayed, Matched) and replayed.t == pytest.approx(hit.t, abs=1e-6), (replayed, hit)
