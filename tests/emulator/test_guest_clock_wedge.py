"""The emulator's guest clock end to end: its side channel, and wedges judged on it by hartbeat.

A guest that deadlocks (every hart in wfi, nothing armed) or spins on a lock after two lines
(programs/wedge.S) is declared wedged after the plan's silence in guest seconds, in a small part
of that in host seconds, and the recording replays to the same verdict.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness.engine.console
from harness.analysis.replay import replay
from harness.engine.guest_clock import STALL_LIMIT, GuestMark, parse_mark
from harness.engine.verdict import Kind, Verdict
from harness.model.board import PROJECT_ROOT
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets.process import ProcessTarget
from harness.targets.starvation import first_child

from .conftest import PROGRAMS, build_elf, link, needs_gcc

BANNER = b"wedge: hart 0 up\nwedge: waiting for the lock\n"


def build(tmp_path: Path, spin: bool, lrsc: bool = False) -> Path:
    flags = (("-DSPIN",) if spin else ()) + (("-DLRSC",) if lrsc else ())
    elf = tmp_path / ("spin.elf" if spin else "deadlock.elf")
    return link(PROGRAMS / "wedge.S", elf, "rv64imac_zicsr", flags=flags)


@needs_gcc
def test_the_side_channel_reports_guest_time_before_each_byte_it_covers(tmp_path: Path) -> None:
    feed = tmp_path / "guest-clock"
    # The deadlocked guest never exits: run it until it reported 20 guest seconds, then stop it.
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.emulator", "-M", "virt", "-smp", "2", "-bios", "none",
         "-kernel", str(build(tmp_path, spin=False)), "-guest-clock", str(feed)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    marks: list[GuestMark | None] = []
    try:
        output = process.stdout.read(len(BANNER))
        end = time.monotonic() + 60.0
        while time.monotonic() < end:
            marks = [parse_mark(line) for line in feed.read_text().splitlines()]
            if marks and marks[-1] is not None and marks[-1].guest > 20.0:
                break
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    assert output == BANNER
    assert all(mark is not None for mark in marks)
    good = [mark for mark in marks if mark is not None]
    assert good[0].guest == 0.0 and good[0].out == 0
    # Every report of a flush names the bytes written by then, and time never goes back.
    assert [m.guest for m in good] == sorted(m.guest for m in good)
    assert max(m.out for m in good) == len(BANNER)
    # A deadlock: guest time runs on without a timer, well past a 20 s silence.
    assert good[-1].guest > 20.0


@needs_gcc
@pytest.mark.parametrize(
    ("spin", "lrsc", "silence", "host_bound"),
    [(False, False, 20, 10.0), (True, False, 3, 25.0), (True, True, 3, 25.0)],
    ids=["deadlock", "spin", "spin-lr"],
)
def test_a_wedge_is_judged_in_guest_seconds(
    tmp_path: Path, spin: bool, lrsc: bool, silence: int, host_bound: float
) -> None:
    # A hart spinning (on plain loads or on lr.d) yields its quanta, so its silence costs a
    # fraction of the guest seconds; a deadlock lets guest time race ahead.
    elf = build(tmp_path, spin, lrsc)
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(
        f'name = "wedge"\nsilence = "{silence}s"\ntimeout = "5m"\n'
        '[[milestone]]\nname = "up"\nexpect = "wedge: hart 0 up"\nwithin = "10s"\n'
        '[[milestone]]\nname = "released"\nexpect = "lock released"\nwithin = "4m"\n'
    )
    board_path = tmp_path / "board.toml"
    board_path.write_text(
        f'name = "emulator-wedge"\ntarget = "emulator"\n[images]\nbios = "none"\nkernel = "{elf}"\n'
        '[emulator]\nmachine = "virt"\nsmp = 2\nmemory = "64M"\n'
    )
    out = tmp_path / "run"
    result = Runner(prepare(load_plan(plan_path), load_board(str(board_path))), out_dir=out).run()
    verdict = result.verdict
    assert verdict.kind is Kind.WEDGE, verdict.reason
    assert verdict.milestone == "up" and verdict.waiting_for == "released"
    # Guest seconds: the silence ran out in full on the guest's clock.
    assert verdict.at >= silence
    events = [line.split() for line in (out / "console.timing").read_text().splitlines()]
    last_byte = max(float(e[1]) for e in events if e[0] == "d")
    judged = float(next(e[1] for e in events if e[0] == "j"))
    assert 0 < judged - last_byte < host_bound, judged - last_byte
    report = json.loads((out / "report.json").read_text())
    assert report["clock"] == "guest" and report["board"]["time_scale"] == 1.0
    assert report["milestones"][0]["host_t"] >= report["milestones"][0]["t"]
    assert (out / "console.log").read_text().startswith("[    0.0")
    again = replay(out)
    assert again.differences() == []
    assert again.verdict.signature == verdict.signature


@needs_gcc
@pytest.mark.parametrize("bad", ["12 x 0", "1 0 0"], ids=["garbled", "backwards"])
def test_a_bad_guest_clock_report_is_judged_on_the_host_clock_with_a_note_and_replays_alike(
    tmp_path: Path, bad: str
) -> None:
    # The emulator's side channel gets a line it never wrote, as a broken or hostile feed would:
    # the run goes on in host seconds (over the fallback scale), says so, and replays the same.
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(
        'name = "wedge"\nsilence = "50ms"\ntimeout = "5m"\n'
        '[[milestone]]\nname = "up"\nexpect = "wedge: hart 0 up"\nwithin = "10s"\n'
        '[[milestone]]\nname = "released"\nexpect = "lock released"\nwithin = "4m"\n'
    )
    board_path = tmp_path / "board.toml"
    board_path.write_text(
        f'name = "emulator-wedge"\ntarget = "emulator"\n[images]\nbios = "none"\n'
        f'kernel = "{build(tmp_path, spin=False)}"\n[emulator]\nmachine = "virt"\nsmp = 2\nmemory = "64M"\n'
    )
    out = tmp_path / "run"
    plan = load_plan(plan_path)
    runner = Runner(prepare(plan, load_board(str(board_path))), out_dir=out)
    with runner.lifecycle() as console:
        assert runner.step(plan.milestones[0]) is None
        feed = runner.target.console().path  # type: ignore[union-attr]
        assert feed is not None
        with feed.open("a") as handle:
            handle.write(bad + "\n")
        verdict = runner.step(plan.milestones[1])
        assert verdict is not None
        runner.conclude(verdict)
        assert console.clock_note is not None
    result = runner.result
    assert result is not None and result.verdict.kind is Kind.WEDGE, result.verdict.reason
    why = "garbled" if "x" in bad else "went backwards"
    report = json.loads((out / "report.json").read_text())
    assert any(why in event and "judged on the host clock" in event for event in report["events"])
    assert any(line.split(maxsplit=2)[2:] == [bad] for line in (out / "console.timing").read_text().splitlines())
    again = replay(out)
    assert again.differences() == []
    assert again.result.events == result.events


def typed_line_guest(last: str, work: int = 1) -> str:
    """A guest that prints ``guest: up``, waits for a line typed at it (Enter: CR or LF), runs
    ``work`` turns of a loop (two instructions each), prints ``last`` and powers off (the test
    device, as OpenSBI's system reset does on virt)."""
    return rf"""
_start:
    bnez a0, park
    li s0, UART
    la s1, up
    call puts
wait:
    lbu t0, 5(s0)
    andi t0, t0, 1
    beqz t0, wait
    lbu t0, 0(s0)
    li t1, '\r'
    beq t0, t1, work
    li t1, '\n'
    bne t0, t1, wait
work:
    li t0, {work}
1:  addi t0, t0, -1
    bnez t0, 1b
    la s1, last
    call puts
    PASS
park:
    wfi
    j park
puts:
    lbu a2, 0(s1)
    beqz a2, 1f
    sb a2, 0(s0)
    addi s1, s1, 1
    j puts
1:  ret
    .section .rodata
up:   .string "guest: up\n"
last: .string "{last}\n"
"""


# Linux's last line before its firmware call: the harness then asks the emulator to power off.
POWER_OFF_GUEST = typed_line_guest("reboot: Power down")

# The emulator's interpreter, with an exit that takes far longer than the guest clock's stall
# limit: the interpreter's teardown after a CPython Linux boot (3.2 M objects to collect and free)
# took 26-35 s of host time at load 11-17 on two cores, here it is an atexit hook of 120 s.
SLOW_TEARDOWN_PYTHON = """#!/bin/sh
bootstrap=$3
shift 3
exec {python} -I -c "import atexit, time; atexit.register(time.sleep, 120); $bootstrap" "$@"
"""


@needs_gcc
def test_the_emulator_exits_at_the_guests_power_off_whatever_its_interpreter_has_left_to_free(
    tmp_path: Path,
) -> None:
    # Once the guest has powered off, the emulator's loop is over and its guest clock stands
    # still: the console must close then, not after the interpreter has torn its heap down (the
    # harness would call that a hung emulator after STALL_LIMIT and end a passing run in error).
    elf = build_elf(tmp_path, POWER_OFF_GUEST, "power_off", "rv64imac_zicsr")
    python = tmp_path / "python-slow-teardown"
    python.write_text(SLOW_TEARDOWN_PYTHON.format(python=sys.executable))
    python.chmod(0o755)
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(
        'name = "off"\nsilence = "20s"\ntimeout = "1m"\n'
        '[[milestone]]\nname = "up"\nexpect = "guest: up"\nwithin = "10s"\n'
        '[[milestone]]\nname = "power-off"\noff = true\nwithin = "30s"\n'
    )
    board_path = tmp_path / "board.toml"
    board_path.write_text(
        f'name = "emulator-off"\ntarget = "emulator"\n[images]\nbios = "none"\nkernel = "{elf}"\n'
        f'[emulator]\nmachine = "virt"\nsmp = 1\nmemory = "64M"\npython = "{python}"\n'
    )
    out = tmp_path / "run"
    started = time.monotonic()
    result = Runner(prepare(load_plan(plan_path), load_board(str(board_path))), out_dir=out).run()
    took = time.monotonic() - started
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    assert [m.name for m in result.milestones] == ["up", "power-off"]
    assert "process exited with status 0" in result.milestones[-1].line
    events = [line.split(maxsplit=2) for line in (out / "console.timing").read_text().splitlines()]
    last_byte = max(float(e[1]) for e in events if e[0] == "d")
    closed = float(next(e[1] for e in events if e[0] == "c"))
    # Bounds far below the teardown's 120 s, generous for a loaded host.
    assert closed - last_byte < STALL_LIMIT / 2, closed - last_byte
    assert took < 60, took


# Its answer takes 10 M instructions: several of the starved emulator's bursts on a CPU, a
# second or two unstarved.
WORKING_GUEST = typed_line_guest("guest: done", work=5_000_000)
# The stall limit for the starved run, and how long the emulator is starved.
STARVED_LIMIT = 0.5
STARVED_FOR = 8 * STARVED_LIMIT
SPINNER = (
    "import time\nend = time.monotonic() + {seconds}\nprint('spinning', flush=True)\nwhile time.monotonic() < end: pass"
)


@contextlib.contextmanager
def starved(pid: int) -> Iterator[None]:
    """Process ``pid`` runnable but hardly ever running, as a loaded host's scheduler can leave
    the emulator: it is moved to one CPU on which a real-time process spins (the emulator runs
    in its own session, so a fair-class competitor would share that CPU with it half and half)."""
    affinity = os.sched_getaffinity(pid)
    cpu = min(affinity)
    # It stops by itself: a test killed midway must not leave a real-time spinner behind.
    hog = subprocess.Popen([sys.executable, "-c", SPINNER.format(seconds=3 * STARVED_FOR)], stdout=subprocess.PIPE)
    try:
        os.sched_setaffinity(hog.pid, {cpu})
        os.sched_setscheduler(hog.pid, os.SCHED_FIFO, os.sched_param(1))
        assert hog.stdout is not None and hog.stdout.readline() == b"spinning\n"
        os.sched_setaffinity(pid, {cpu})
        yield
    finally:
        hog.kill()
        hog.wait()
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, affinity)


@needs_gcc
@pytest.mark.skipif(not hasattr(os, "SCHED_FIFO"), reason="needs SCHED_FIFO (Linux)")
# Alone: its real-time spinner owns one of the machine's CPUs for seconds, which starves whatever
# another worker runs there (a fresh-clone CI saw two Ctrl-C timing tests and a replay's 2.5 ms
# milestone drift fail beside it).
@pytest.mark.alone
def test_a_starved_emulator_is_waited_for_not_called_hung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator gets no CPU for three stall limits while the plan waits for the guest's answer:
    # its guest clock stands still, yet it is not hung, and the guest answers once it runs again.
    elf = build_elf(tmp_path, WORKING_GUEST, "working", "rv64imac_zicsr")
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(
        'name = "starved"\nsilence = "20s"\ntimeout = "1m"\n'
        '[[milestone]]\nname = "up"\nexpect = "guest: up"\nwithin = "10s"\n'
        '[[milestone]]\nname = "done"\nsend = "go"\nexpect = "guest: done"\nwithin = "10s"\n'
    )
    board_path = tmp_path / "board.toml"
    board_path.write_text(
        f'name = "emulator-starved"\ntarget = "emulator"\n[images]\nbios = "none"\nkernel = "{elf}"\n'
        '[emulator]\nmachine = "virt"\nsmp = 1\nmemory = "64M"\n'
    )
    out = tmp_path / "run"
    plan = load_plan(plan_path)
    runner = Runner(prepare(plan, load_board(str(board_path))), out_dir=out)
    with runner.lifecycle():
        assert runner.step(plan.milestones[0]) is None
        target = runner.target
        assert isinstance(target, ProcessTarget) and target.pid is not None
        emulator = first_child(target.pid)
        assert emulator is not None
        # A short limit from here (the emulator's start-up is not what this is about).
        monkeypatch.setattr(harness.engine.console, "STALL_LIMIT", STARVED_LIMIT)
        # Starved from before the typing until well into the wait for the answer.
        starving = contextlib.ExitStack()
        starving.enter_context(starved(emulator))
        release = threading.Timer(STARVED_FOR, starving.close)
        release.start()
        try:
            verdict = runner.step(plan.milestones[1])
        finally:
            release.join()
            starving.close()
        assert verdict is None, verdict.reason
        runner.conclude(Verdict(Kind.PASS, "both milestones", milestone="done"))
    events = [line.split() for line in (out / "console.timing").read_text().splitlines()]
    reports = [float(e[1]) for e in events if e[0] == "g"]
    # The guest clock stood still for longer than the stall limit (on the host's time alone, the
    # run would have ended in error), and the waiting for a CPU was seen.
    assert max(b - a for a, b in itertools.pairwise(reports)) > 1.5 * STARVED_LIMIT, reports
    assert max(float(e[2]) for e in events if e[0] == "w") > 1.5 * STARVED_LIMIT
