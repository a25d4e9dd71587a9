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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.autopsy.model import KERNEL_HALF, Frame, Location, SysrqCpu, SysrqReport, SysrqTask
from harness.errors import HartbeatError

if TYPE_CHECKING:  # the parser is read by reports, which need no console
    from harness.engine.console import Console

# The probe's whole budget, whatever the keys: as the autopsy's.
MAX_SECONDS = 5.0
# After the BREAK the kernel takes the next character as the SysRq key for 5 s; give it a moment.
AFTER_BREAK = 0.05
# How long the kernel may take to start answering a key (a slow emulated machine needs most).
FIRST_BYTE = 1.0
# A key's output is complete once the console has been quiet this long...
QUIET = 0.3
# ...or after this long, whatever it prints (a flood of `t` on a big system).
PER_KEY_LIMIT = 2.0

_CPU = re.compile(r"\bCPU(\d+):\s*(.*?)\s*$")
_REGS = re.compile(r"\bepc\s*:\s*([0-9a-fA-F]+)\s+ra\s*:\s*([0-9a-fA-F]+)\s+sp\s*:\s*([0-9a-fA-F]+)")
_FRAME = re.compile(r"\[<([0-9a-fA-F]+)>\]")
_TASK = re.compile(r"\btask:(\S+)\s+state:(\S+).*?\bpid:\s*(\d+)")
_WHO = re.compile(r"\bCPU: (\d+) PID: (\d+) Comm: (\S+)")
_HEADER = re.compile(r"\bsysrq: (.+?)\s*$")


class SysrqUnavailable(HartbeatError):
    """The probe cannot be taken (no BREAK on this target, an unknown key); the message says why."""


@dataclass
class _Dump:
    """A CPU or task dump being read: its fields so far and its frames."""

    fields: dict[str, Any]
    task: bool
    frames: list[Frame] = field(default_factory=list)


def parse(keys: str, lines: Iterable[str]) -> SysrqReport:
    """Read the CPUs and tasks out of the kernel's SysRq output (timestamps and all)."""
    kept = tuple(lines)
    cpus: list[SysrqCpu] = []
    tasks: list[SysrqTask] = []
    headers: list[str] = []
    dump: _Dump | None = None
    who: tuple[int, int, str] | None = None

    def flush() -> None:
        if dump is not None:
            if dump.task:
                tasks.append(SysrqTask(frames=tuple(dump.frames), **dump.fields))
            else:
                cpus.append(SysrqCpu(frames=tuple(dump.frames), **dump.fields))

    for line in kept:
        if m := _CPU.search(line):
            # `sysrq: CPU1:` (6.1) or `CPU1:`: one CPU's dump starts; `CPU1: backtrace skipped
            # as idling` is the whole dump of an idle one.
            flush()
            dump = _Dump({"cpu": int(m.group(1)), "note": m.group(2) or None}, task=False)
        elif m := _HEADER.search(line):
            flush()
            dump = None
            headers.append(m.group(1))
        elif m := _WHO.search(line):
            who = (int(m.group(1)), int(m.group(2)), m.group(3))
            if dump is None or dump.task:
                flush()
                dump = _Dump({"cpu": who[0]}, task=False)
            dump.fields.update(pid=who[1], comm=who[2])
        elif m := _TASK.search(line):
            flush()
            dump = _Dump({"name": m.group(1), "state": m.group(2), "pid": int(m.group(3))}, task=True)
        elif dump is not None and not dump.task and "epc" not in dump.fields and (m := _REGS.search(line)):
            dump.fields.update(epc=int(m.group(1), 16), ra=int(m.group(2), 16), sp=int(m.group(3), 16))
        elif dump is not None and (m := _FRAME.search(line)):
            dump.frames.append(Frame(int(m.group(1), 16)))
    flush()
    return SysrqReport(keys, kept, tuple(cpus), tuple(tasks), tuple(headers))


def symbolize(report: SysrqReport, locate: Callable[[int], Location | None]) -> SysrqReport:
    """The report with every address named (``locate`` maps a kernel address to its place)."""

    def frames(items: tuple[Frame, ...]) -> tuple[Frame, ...]:
        return tuple(replace(f, where=locate(f.pc)) for f in items)

    def kernel(address: int | None) -> Location | None:
        return None if address is None or address < KERNEL_HALF else locate(address)

    cpus = tuple(
        replace(c, frames=frames(c.frames), where=kernel(c.epc), ra_where=None if c.user else kernel(c.ra))
        for c in report.cpus
    )
    tasks = tuple(replace(t, frames=frames(t.frames)) for t in report.tasks)
    return replace(report, cpus=cpus, tasks=tasks)


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
    with console.capture() as lines:
        for key in keys:
            if time.monotonic() >= deadline:
                break
            try:
                send_break()
            except HartbeatError as exc:
                raise SysrqUnavailable(f"cannot send a serial BREAK: {exc}") from None
            time.sleep(AFTER_BREAK)
            before = console.bytes_received
            console.send(key)
            started = time.monotonic()
            end = min(started + per_key, deadline)
            # The console was quiet before the key: wait for the answer to start, then for it to end.
            while console.bytes_received == before and time.monotonic() < min(started + FIRST_BYTE, end):
                time.sleep(0.01)
            console.drain(quiet=quiet, limit=max(0.0, end - time.monotonic()))
        captured = [text for _t, text in lines]
    return parse(keys, captured)


def ask(console: Console, target: object, keys: str, locate: Callable[[int], Location | None]) -> SysrqReport:
    """The probe as a run takes it after the verdict: never raises, at most :data:`MAX_SECONDS`.

    ``target`` sends the BREAK if it has a ``send_break()`` (QEMU, a serial port); ``locate``
    names kernel addresses (the run's symbols). A target that cannot send one, or a console that
    has closed, gives a report with the reason and no lines.
    """
    send_break = getattr(target, "send_break", None)
    if not callable(send_break):
        return SysrqReport(keys, (), reason=f"{type(target).__name__} cannot send a serial BREAK")
    if console.closed is not None:
        return SysrqReport(keys, (), reason=f"the console has closed ({console.closed})")
    started = time.monotonic()
    deadline = started + min(MAX_SECONDS, PER_KEY_LIMIT * len(keys))
    try:
        report = symbolize(probe(console, send_break, keys, deadline), locate)
    except SysrqUnavailable as exc:
        report = SysrqReport(keys, (), reason=str(exc))
    except HartbeatError as exc:  # typing failed: the target went away meanwhile
        report = SysrqReport(keys, (), reason=f"cannot type the SysRq key: {exc}")
    return replace(report, duration=time.monotonic() - started)
