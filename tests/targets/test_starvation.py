"""The starvation meter on real processes: runnable without a CPU is starved; asleep or stopped is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.targets.starvation import StarvationMeter, cpu_and_state, first_child

# Spins, once it has said so; and stops by itself (a test killed midway leaves nothing behind).
SPIN = "import time\nend = time.monotonic() + 60\nprint('spinning', flush=True)\nwhile time.monotonic() < end: pass"
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


def watch(pid: int) -> tuple[float, float]:
    """(host seconds watched, starvation the meter saw), sampling as the console's reader does."""
    meter = StarvationMeter()
    start = time.monotonic()
    assert meter.sample(pid, start) == 0.0
    total: float | None = 0.0
    while time.monotonic() - start < WATCH:
        time.sleep(0.1)
        total = meter.sample(pid, time.monotonic())
    assert total is not None
    return time.monotonic() - start, total


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


def test_a_process_that_has_exited_cannot_be_measured_and_a_new_one_starts_at_zero() -> None:
    meter = StarvationMeter()
    with processes(SPIN) as (first,):
        assert meter.sample(first.pid, time.monotonic()) == 0.0
    assert meter.sample(first.pid, time.monotonic()) is None
    assert cpu_and_state(first.pid) is None
    with processes("import time; time.sleep(60)") as (second,):
        assert meter.sample(second.pid, time.monotonic()) == 0.0
        # The console program is the keeper's child: found through /proc.
        assert first_child(os.getpid()) is not None
        assert first_child(second.pid) is None
