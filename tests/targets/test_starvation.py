"""The starvation meter on real processes: runnable without a CPU is starved; asleep or stopped is
not; and a process target held off the CPU is not silent for that time."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.engine.console import Console, Matched, Quiet
from harness.engine.matcher import Watch
from harness.engine.watch_kind import WatchKind
from harness.targets.process import ProcessTarget
from harness.targets.starvation import StarvationMeter, cpu_and_state, first_child, run_delay

# Spins, once it has said so; and stops by itself (a test killed midway leaves nothing behind).
SPIN = "import time\nend = time.monotonic() + 60\nprint('spinning', flush=True)\nwhile time.monotonic() < end: pass"
# Says so, then sleeps (and stops by itself).
ASLEEP = "import time; print('asleep', flush=True); time.sleep(60)"
# Host seconds each case watches its process.
WATCH = 1.5


@contextmanager
def processes(*codes: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) for code in codes]
    try:
        for code, process in zip(codes, started, strict=True):
            if code == SPIN:
                assert process.stdout is not None and process.stdout.readline() == b"spinning\n"
        yield started
    finally:
        # All killed before any is waited for: a starved process needs a CPU to exit.
        for process in started:
            process.kill()
        for process in started:
            process.wait()


def asleep(process: subprocess.Popen[bytes]) -> None:
    """Wait until ``process`` (running ASLEEP) sleeps: its run-queue delay no longer moves."""
    assert process.stdout is not None and process.stdout.readline() == b"asleep\n"
    end = time.monotonic() + 10.0
    while (cpu_and_state(process.pid) or (0.0, "?"))[1] != "S" and time.monotonic() < end:
        time.sleep(0.01)


def watch(pid: int) -> tuple[float, float]:
    """(host seconds watched, starvation the meter saw), sampling as the console's reader does."""
    meter = StarvationMeter()
    start = time.monotonic()
    first = meter.sample(pid, start)
    assert first is not None and first >= 0.0
    total: float | None = first
    while time.monotonic() - start < WATCH:
        time.sleep(0.1)
        total = meter.sample(pid, time.monotonic())
    assert total is not None
    return time.monotonic() - start, total - first


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs SCHED_IDLE (Linux)")
def test_a_process_that_wants_a_cpu_and_gets_none_is_starved() -> None:
    # The victim runs only when nothing else on its CPU wants to (SCHED_IDLE), beside two
    # spinners on that CPU: it is runnable all along and hardly ever runs.
    cpu = min(os.sched_getaffinity(0))
    with processes(SPIN, SPIN, SPIN) as (victim, *hogs):
        for process in (victim, *hogs):
            os.sched_setaffinity(process.pid, {cpu})
        os.sched_setscheduler(victim.pid, os.SCHED_IDLE, os.sched_param(0))
        took, starved = watch(victim.pid)
    assert starved > 0.6 * took, (starved, took)


def test_a_sleeping_or_stopped_process_is_not_starved() -> None:
    # Both would be what a hung emulator looks like (blocked, or stopped): their time is a stall.
    with processes("import time; time.sleep(60)", SPIN) as (sleeper, stopped):
        os.kill(stopped.pid, signal.SIGSTOP)
        time.sleep(0.2)
        assert cpu_and_state(stopped.pid) is not None
        for process in (sleeper, stopped):
            _took, starved = watch(process.pid)
            assert starved == 0.0


def test_a_process_that_has_exited_cannot_be_measured_and_a_new_one_starts_from_its_own_wait() -> None:
    meter = StarvationMeter()
    with processes(SPIN) as (first,):
        before = meter.sample(first.pid, time.monotonic())
        assert before is not None and before >= 0.0
    assert meter.sample(first.pid, time.monotonic()) is None
    assert cpu_and_state(first.pid) is None
    with processes(ASLEEP) as (second,):
        asleep(second)
        # Asleep, its run-queue delay no longer moves: started since the last look, all of its
        # wait is added to the total, which goes on rising across the target's processes.
        assert meter.sample(second.pid, time.monotonic()) == before + run_delay(second.pid)
        # The console program is the keeper's child: found through /proc.
        assert first_child(os.getpid()) is not None
        assert first_child(second.pid) is None


def test_a_process_seen_before_or_started_before_the_last_look_adds_no_earlier_wait() -> None:
    # Both started before the meter's first look: once it has looked at one, the other's earlier
    # wait overlapped (an orphan the keeper adopts); and one seen before is not counted again.
    with processes(ASLEEP, ASLEEP) as (program, orphan):
        for process in (program, orphan):
            asleep(process)
        time.sleep(0.05)
        meter = StarvationMeter()
        total = meter.sample(program.pid, time.monotonic())
        assert total == run_delay(program.pid)
        assert meter.sample(orphan.pid, time.monotonic()) == total
        assert meter.sample(program.pid, time.monotonic()) == total


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs SCHED_IDLE (Linux)")
def test_what_a_new_process_waited_before_its_first_look_counts() -> None:
    # Told to go on, the program needs 20 ms of CPU before it says so and sleeps, and is held
    # off its CPU for 1 s meanwhile (SCHED_IDLE beside two spinners there: it gets a slice now
    # and then, not 20 ms). By the meter's first look its wait is over, known from schedstat only.
    cpu = min(os.sched_getaffinity(0))
    code = (
        "import sys, time\nsys.stdin.read(1)\nend = time.process_time() + 0.02\n"
        "while time.process_time() < end: pass\nprint('late', flush=True)\ntime.sleep(60)"
    )
    late = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert late.stdin is not None and late.stdout is not None
        with processes(SPIN, SPIN) as hogs:
            for pid in (late.pid, *(process.pid for process in hogs)):
                os.sched_setaffinity(pid, {cpu})
            os.sched_setscheduler(late.pid, os.SCHED_IDLE, os.sched_param(0))
            late.stdin.write(b"go")
            late.stdin.flush()
            time.sleep(1.0)
        # Its wait is over, whatever else runs on that CPU (say a parallel test's emulator);
        # without the privilege to lift it, it waits for whatever that is.
        with contextlib.suppress(PermissionError):
            os.sched_setscheduler(late.pid, os.SCHED_OTHER, os.sched_param(0))
        assert late.stdout.readline() == b"late\n"
        waited = StarvationMeter().sample(late.pid, time.monotonic())
    finally:
        late.kill()
        late.wait()
    assert waited is not None and waited >= 0.6, waited


def expect(pattern: str) -> Watch:
    return Watch(pattern, WatchKind.EXPECT, re.compile(pattern, re.MULTILINE))


# The target's program: says "held", then holds itself off its CPU (SCHED_IDLE beside two
# spinners it forks there for HELD s: in its own session, so that the session's autogroup does
# not give it a fair share anyway) and spins without printing. It ends by itself.
HELD = 2.5
HELD_OFF = f"""\
import os, time
cpu = min(os.sched_getaffinity(0))
os.sched_setaffinity(0, {{cpu}})
print("held", flush=True)
for _ in range(2):
    if os.fork() == 0:
        end = time.monotonic() + {HELD}
        while time.monotonic() < end: pass
        os._exit(0)
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
end = time.monotonic() + 60
while time.monotonic() < end: pass
"""


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs SCHED_IDLE (Linux)")
def test_a_process_target_held_off_the_cpu_is_not_called_silent() -> None:
    # Held off for HELD s, the program could not have printed: the 0.5 s silence (and the
    # deadline) are not called then (before, a wedge at 0.5 s). Given its CPU back, its silence
    # is its own and is called.
    target = ProcessTarget("held-off", [sys.executable, "-c", HELD_OFF])
    console = Console(target.console())
    console.start()
    target.power_on()
    console.mark_power_on()

    def cpu_back(program: int) -> None:
        # Its own share (whatever else runs there, say a parallel test's emulator), if allowed.
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.sched_setscheduler(program, os.SCHED_OTHER, os.sched_param(0))

    try:
        up = console.wait_for([expect("held")], silence=30.0)
        assert isinstance(up, Matched), up
        assert target.pid is not None
        program = first_child(target.pid)
        assert program is not None
        back = threading.Timer(HELD, cpu_back, (program,))
        back.start()
        try:
            silent = console.wait_for([expect("never printed")], silence=0.5, deadline=up.t + 2.0)
        finally:
            back.cancel()
        assert isinstance(silent, Quiet), (up, silent)
        assert HELD / 2 < silent.t - up.t < HELD + 10.0, (up, silent)
    finally:
        target.power_off()
        console.stop()
