"""How long a target's process waited for a CPU: a starved target is neither hung nor silent.

The console judges an emulator's stopped guest clock as a hung emulator after STALL_LIMIT host
seconds (:mod:`harness.engine.guest_clock`), and a target on the host clock as wedged after its
plan's silence. On a loaded host the target's program can be runnable and not get a CPU for much
of that time; those seconds must not count. The kernel's own run-queue delay
(``/proc/PID/schedstat``) is only brought up to date when the task gets a CPU again, so it says
nothing while the starvation lasts; the meter samples ``/proc/PID/stat`` instead: across an
interval at whose both ends the process was runnable (state ``R``), the host time it did not
spend on a CPU is time it waited for one. A process that sleeps or is stopped (blocked on a
write, a deadlock, SIGSTOP) is not starved: that time counts. What a process started since the
meter's last look waited before its first look (a keeper's interpreter starting on a loaded
host, then its child) is the run-queue delay it has had a CPU after, which schedstat does know.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# /proc/PID/stat's CPU times are in clock ticks.
TICKS = os.sysconf("SC_CLK_TCK")
RUNNABLE = "R"


def process_stat(pid: int) -> tuple[float, str, float] | None:
    """Seconds of CPU the process ``pid`` used (all threads), its state letter and when it
    started (seconds since boot, as CLOCK_BOOTTIME counts them), or ``None``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(") ", 1)[-1].split()
    try:
        # Fields 3 (state), 14 and 15 (utime, stime) and 22 (starttime) of proc(5).
        return (int(fields[11]) + int(fields[12])) / TICKS, fields[0], int(fields[19]) / TICKS
    except (IndexError, ValueError):
        return None


def cpu_and_state(pid: int) -> tuple[float, str] | None:
    """Seconds of CPU the process ``pid`` used (all threads) and its state letter, or ``None``."""
    stat = process_stat(pid)
    return None if stat is None else stat[:2]


def run_delay(pid: int) -> float:
    """Seconds the process ``pid`` has waited on a run queue, as of its last time on a CPU
    (``/proc/PID/schedstat``'s second field); 0 when that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text(encoding="ascii").split()
        return int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def first_child(pid: int) -> int | None:
    """The oldest living child of ``pid`` (the keeper's is the target's program), or ``None``."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii").split()
    except OSError:
        return None
    return int(children[0]) if children else None


class StarvationMeter:
    """Host seconds a target's processes spent runnable without a CPU, summed over :meth:`sample`
    calls: the keeper, then its program, then the next power cycle's, one rising total."""

    def __init__(self) -> None:
        # The process looked at last, as (pid, start time): a pid the kernel reused is another.
        self._pid: tuple[int, float] | None = None
        # (host seconds, CPU seconds, state) of the process looked at last, at that look.
        self._last: tuple[float, float, str] | None = None
        # Every process looked at, and when (CLOCK_BOOTTIME) the meter last looked at one.
        self._seen: set[tuple[int, float]] = set()
        self._looked: float | None = None
        self.total = 0.0

    def sample(self, pid: int, host: float) -> float | None:
        """Look at process ``pid`` at host time ``host``; the total so far, or ``None`` when it
        cannot be read (it has exited)."""
        stat = process_stat(pid)
        if stat is None:
            return None
        cpu, state, started = stat
        looked, self._looked = self._looked, time.clock_gettime(time.CLOCK_BOOTTIME)
        last = self._last
        process = (pid, started)
        if process != self._pid:
            # What a new process waited before this first look counts if it started since the
            # last look: before that, it ran beside the process looked at then (an orphan the
            # keeper adopted), and their waits overlapped. A process seen before (the keeper
            # again, once its program has exited) starts a new interval.
            if process not in self._seen and (looked is None or started >= looked - 1 / TICKS):
                self.total += run_delay(pid)
            self._seen.add(process)
            self._pid, last = process, None
        elif last is not None and state == RUNNABLE and last[2] == RUNNABLE:
            self.total += max(0.0, (host - last[0]) - (cpu - last[1]))
        self._last = (host, cpu, state)
        return self.total
