"""The SysRq probe: ask a Linux on the console where its CPUs and blocked tasks are.

Any target whose console can carry a serial BREAK (QEMU through QMP, a serial port, the
emulator's UART) can be asked: a BREAK, then one key per request. ``l`` prints the registers
and the backtrace of the CPU that took the console's interrupt (and, where the architecture
can, of every CPU), ``w`` the tasks blocked in uninterruptible sleep with their call traces.

What the kernel prints is the board's own output: it goes to the console log like everything
else (after the verdict, which it can no longer change: a replay decides on the recording up to
the verdict's moment and never plays this far), and the lines are kept here as the evidence the
report shows. :func:`parse` reads the addresses out of them; the framework names them with the
run's symbols (``System.map`` for a kernel built without KALLSYMS, which prints bare addresses).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.console import Console
from harness.errors import HartbeatError

# The keys the probe knows, and what each one makes Linux print (Documentation/admin-guide/sysrq.rst).
KEYS = {
    "l": "backtrace of all active CPUs",
    "w": "blocked (uninterruptible) tasks",
    "t": "every task",
    "p": "the current registers",
    "m": "memory",
    "q": "armed timers",
}
# After the BREAK the kernel takes the next character as the SysRq key for 5 s; give it a moment.
AFTER_BREAK = 0.05
# How long the kernel may take to start answering a key (a slow emulated machine needs most).
FIRST_BYTE = 1.0
# A key's output is complete once the console has been quiet this long...
QUIET = 0.3
# ...or after this long, whatever it prints (a flood of `t` on a big system).
PER_KEY_LIMIT = 2.0

_CPU = re.compile(r"\bCPU(\d+):\s*$")
_REGS = re.compile(r"\bepc\s*:\s*([0-9a-fA-Fx]+)\s+ra\s*:\s*([0-9a-fA-Fx]+)\s+sp\s*:\s*([0-9a-fA-Fx]+)")
_FRAME = re.compile(r"\[<([0-9a-fA-F]+)>\]")
_TASK = re.compile(r"\btask:(\S+)\s+state:(\S+).*?\bpid:\s*(\d+)")
_CPU_LINE = re.compile(r"\bCPU: (\d+) PID: (\d+) Comm: (\S+)")
_HEADER = re.compile(r"\bsysrq: (.+)$")
# Addresses of the kernel's own text on RISC-V (sv39 and up put it in the top half).
KERNEL_HALF = 1 << 63


class SysrqUnavailable(HartbeatError):
    """The probe cannot be taken (no BREAK on this target, an unknown key); the message says why."""


@dataclass(frozen=True)
class SysrqCpu:
    """One CPU's registers as ``l`` printed them, and its call trace (kernel return addresses)."""

    cpu: int
    epc: int
    ra: int
    sp: int
    pid: int | None = None
    comm: str | None = None
    frames: tuple[int, ...] = ()

    @property
    def user(self) -> bool:
        """The CPU was interrupted in user mode (its pc is below the kernel's half)."""
        return self.epc < KERNEL_HALF


@dataclass(frozen=True)
class SysrqTask:
    """One task ``w`` (or ``t``) listed: name, state, pid, and its call trace."""

    name: str
    state: str
    pid: int
    frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class SysrqReport:
    """What the probe asked and what the kernel answered: the lines as evidence, and parsed."""

    keys: str
    lines: tuple[str, ...]
    cpus: tuple[SysrqCpu, ...] = ()
    tasks: tuple[SysrqTask, ...] = ()
    headers: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        """The kernel printed a SysRq header for at least one key (it heard the BREAK)."""
        return bool(self.headers)


def check_keys(keys: str, source: str = "[autopsy] sysrq") -> str:
    """The keys, checked against :data:`KEYS`; anything else is a one-line error naming the key."""
    unknown = sorted(set(keys) - set(KEYS))
    if unknown:
        known = ", ".join(f"{k} ({what})" for k, what in KEYS.items())
        raise SysrqUnavailable(f"{source}: unknown SysRq key {''.join(unknown)!r}; expected some of {known}")
    return keys


def parse(keys: str, lines: Iterable[str]) -> SysrqReport:
    """Read the CPUs and tasks out of the kernel's SysRq output (timestamps and all)."""
    kept = tuple(lines)
    cpus: list[SysrqCpu] = []
    tasks: list[SysrqTask] = []
    headers: list[str] = []
    cpu: dict[str, object] | None = None
    task: dict[str, object] | None = None
    frames: list[int] = []
    pending_cpu: int | None = None
    who: tuple[int, int, str] | None = None

    def flush() -> None:
        nonlocal cpu, task, frames
        if cpu is not None:
            cpus.append(SysrqCpu(frames=tuple(frames), **cpu))  # type: ignore[arg-type]
        if task is not None:
            tasks.append(SysrqTask(frames=tuple(frames), **task))  # type: ignore[arg-type]
        cpu = task = None
        frames = []

    for line in kept:
        if m := _HEADER.search(line):
            flush()
            headers.append(m.group(1).strip())
        elif m := _CPU.search(line):
            flush()
            pending_cpu = int(m.group(1))
        elif m := _CPU_LINE.search(line):
            who = (int(m.group(1)), int(m.group(2)), m.group(3))
        elif m := _REGS.search(line):
            if cpu is not None:
                continue  # the second register line of the same dump
            flush()
            number = pending_cpu if pending_cpu is not None else (who[0] if who else len(cpus))
            cpu = {
                "cpu": number,
                "epc": int(m.group(1), 16),
                "ra": int(m.group(2), 16),
                "sp": int(m.group(3), 16),
                "pid": who[1] if who else None,
                "comm": who[2] if who else None,
            }
            pending_cpu = None
            who = None
        elif m := _TASK.search(line):
            flush()
            task = {"name": m.group(1), "state": m.group(2), "pid": int(m.group(3))}
        elif (m := _FRAME.search(line)) and (cpu is not None or task is not None):
            frames.append(int(m.group(1), 16))
    flush()
    return SysrqReport(keys, kept, tuple(cpus), tuple(tasks), tuple(headers))


def probe(
    console: Console,
    send_break: Callable[[], None],
    keys: str,
    deadline: float,
    *,
    quiet: float = QUIET,
    per_key: float = PER_KEY_LIMIT,
) -> SysrqReport:
    """BREAK, then each key; collect what the kernel prints until it is quiet, by ``deadline``.

    ``send_break`` is the target's way to send a serial BREAK. Every byte the kernel prints also
    stays in the console log; the typed keys are recorded as typing, as any typing is.
    """
    check_keys(keys)
    with console.capture() as lines:
        for key in keys:
            if time.monotonic() >= deadline:
                break
            try:
                send_break()
            except HartbeatError as exc:
                raise SysrqUnavailable(f"SysRq: cannot send a serial BREAK: {exc}") from None
            time.sleep(AFTER_BREAK)
            before = console.bytes_received()
            console.send(key)
            started = time.monotonic()
            end = min(started + per_key, deadline)
            # The console was quiet before the key: wait for the answer to start, then for it to end.
            while console.bytes_received() == before and time.monotonic() < min(started + FIRST_BYTE, end):
                time.sleep(0.01)
            console.drain(quiet=quiet, limit=max(0.0, end - time.monotonic()))
        captured = [text for _t, text in lines]
    return parse(keys, captured)
