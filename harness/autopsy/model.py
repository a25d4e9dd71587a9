"""The autopsy's data: what a backend reads from each hart, and what the framework concludes.

Backends fill :class:`HartState` (one read of one hart); the framework (:mod:`harness.probes.take`)
samples them, symbolizes, classifies each hart (:class:`HartClass`) and sums up the system
(:class:`Diagnosis`) into an :class:`Autopsy`, which ``report.json`` stores as its ``autopsy``
object (:mod:`harness.autopsy.record`) and replay, compare and bisect read back. The SysRq
probe's answer (:class:`SysrqReport`, parsed by :mod:`harness.autopsy.sysrq`) is part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# mstatus bits the autopsy reports (privileged spec, 3.1.6).
MSTATUS_SIE = 1 << 1
MSTATUS_MIE = 1 << 3
INTERRUPT_BIT = 1 << 63
SATP_MODES = {0: "bare", 8: "sv39", 9: "sv48", 10: "sv57"}
# The hard ceiling of an autopsy, whatever a plan asks: the verdict is already decided and a
# hung backend must not hold the target (and the report) for long.
MAX_SECONDS = 5.0
DEFAULT_SAMPLES = 5
DEFAULT_SPAN = 0.5


# The SysRq keys the console probe may press (Documentation/admin-guide/sysrq.rst), and what each
# makes Linux print; a plan's `[autopsy] sysrq` is checked against them.
SYSRQ_KEYS = {
    "l": "backtrace of all active CPUs",
    "w": "blocked (uninterruptible) tasks",
    "t": "every task",
    "p": "the current registers",
    "m": "memory",
    "q": "armed timers",
}


class Privilege(StrEnum):
    """The privilege mode a hart runs in."""

    M = "M"
    S = "S"
    U = "U"

    @classmethod
    def from_number(cls, number: int) -> Privilege:
        """From the encoding of mstatus.MPP and the debug spec's ``prv`` (0 U, 1 S, 3 M)."""
        return {0: cls.U, 1: cls.S, 3: cls.M}[number & 3]


class HartClass(StrEnum):
    """What a hart was doing over the samples."""

    IDLE = "idle"  # in wfi in every sample, no enabled interrupt pending
    SPINNING = "spinning"  # a few pcs, instructions retired growing
    RUNNING = "running"  # pc moving widely
    TRAP_LOOP = "trap loop"  # the same trap again and again
    STOPPED = "stopped"  # no instruction retired and not in wfi (halted, or the backend cannot tell)
    UNAVAILABLE = "unavailable"  # the hart could not be read (the reason says why)


class DiagnosisKind(StrEnum):
    """The whole system's state, from the harts' classes."""

    DEADLOCK = "deadlock"  # no hart makes progress: all idle, or several spinning on memory while none runs
    SPINNING = "spinning"  # harts spin in place, the others idle (not all of them shown waiting on memory)
    STOPPED = "stopped"  # harts retire no instruction and are not in wfi
    TRAP_LOOP = "trap loop"  # at least one hart takes the same trap again and again
    RUNNING = "running"  # at least one hart runs widely: busy, not stuck (or stuck in a big loop)
    PARTIAL = "partial"  # some harts could not be read, the others do not explain the hang
    UNAVAILABLE = "unavailable"  # no autopsy: the reason says why


class LoopWait(StrEnum):
    """What a spinning hart's loop waits on, from its instructions: the values its exits test."""

    MEMORY = "memory"  # an exit tests a value read from memory (not the stack): another hart or a device
    NOTHING = "nothing"  # no exit at all: only an interrupt takes the hart out of it
    REGISTERS = "registers"  # its exits test only registers, its stack or CSRs: a count or the clock
    UNKNOWN = "unknown"  # its code could not be read or followed (no closing branch, an indirect call)

    @property
    def phrase(self) -> str:
        """The words a hart's note ends with (empty when nothing is known)."""
        return {
            LoopWait.MEMORY: "its loop leaves on a value read from memory: it waits on another hart or a device",
            LoopWait.NOTHING: "its loop has no exit: it waits for nothing",
            LoopWait.REGISTERS: "its loop leaves on registers or CSRs only (a count, the clock): it waits on no hart",
            LoopWait.UNKNOWN: "",
        }[self]


@dataclass(frozen=True)
class AutopsySettings:
    """A plan's ``[autopsy]`` section: whether to take one, how many samples over how long.

    ``limit`` is the whole autopsy's budget in seconds (at most :data:`MAX_SECONDS`).
    """

    enabled: bool = True
    samples: int = DEFAULT_SAMPLES
    span: float = DEFAULT_SPAN
    limit: float = MAX_SECONDS
    # SysRq keys to press on the console after the harts are read (a wedge or stall of a Linux):
    # "" asks nothing; "lw" a BREAK then `l`, a BREAK then `w` (see :data:`SYSRQ_KEYS`).
    sysrq: str = ""

    @property
    def interval(self) -> float:
        """Seconds between two samples (``span`` spread over ``samples``, first at 0)."""
        return self.span / (self.samples - 1) if self.samples > 1 else 0.0


@dataclass(frozen=True)
class TrapCsrs:
    """One mode's trap CSRs: xcause, xepc, xtval."""

    cause: int
    epc: int
    tval: int

    @property
    def interrupt(self) -> bool:
        """The cause is an interrupt (its top bit set)."""
        return bool(self.cause & INTERRUPT_BIT)


@dataclass(frozen=True)
class HartState:
    """One read of one hart, as a backend returns it.

    ``instret`` counts instructions retired (exact on the emulator, ``None`` where the backend
    cannot count); ``traps`` counts traps taken since reset (``None`` when unknown): both only
    ever grow, and the framework compares them between samples. ``m_trap`` and ``s_trap`` are
    the M- and S-mode trap CSRs (``s_trap`` ``None`` on a hart without S-mode).
    """

    hart: int
    mode: Privilege
    pc: int
    ra: int
    sp: int
    fp: int
    wfi: bool
    mstatus: int
    mip: int
    mie: int
    satp: int
    m_trap: TrapCsrs
    s_trap: TrapCsrs | None = None
    instret: int | None = None
    traps: int | None = None

    @property
    def trap(self) -> TrapCsrs:
        """The trap CSRs of the hart's own mode (U-mode traps are taken in S or M: S's when present)."""
        if self.mode != Privilege.M and self.s_trap is not None:
            return self.s_trap
        return self.m_trap

    @property
    def trap_mode(self) -> Privilege:
        """Whose trap CSRs :attr:`trap` is: M, or S for an S- or U-mode hart with S-mode."""
        return Privilege.M if self.trap is self.m_trap else Privilege.S

    @property
    def satp_mode(self) -> str:
        """``bare``, ``sv39`` ... from satp's MODE field."""
        return SATP_MODES.get(self.satp >> 60, f"mode {self.satp >> 60}")

    @property
    def asid(self) -> int:
        """satp's ASID field."""
        return (self.satp >> 44) & 0xFFFF

    @property
    def pending_enabled(self) -> int:
        """Interrupts both pending and enabled (``mip & mie``): nonzero means wfi would wake."""
        return self.mip & self.mie


@dataclass(frozen=True)
class HartGlance:
    """A quick read of one hart between full ones: only what the classification compares
    between samples (a backend whose reads are slow, OpenOCD over JTAG, offers it)."""

    hart: int
    mode: Privilege
    pc: int
    wfi: bool
    instret: int | None = None
    traps: int | None = None


@dataclass(frozen=True)
class HartMissing:
    """A hart the backend could not read, and why."""

    hart: int
    reason: str


@dataclass(frozen=True)
class Location:
    """Where an address lies: ``spin_lock+0x1c (lock.c:13)`` or ``fw_jump.elf+0x1a2c``.

    ``image`` is the symbol file's name; ``function`` and ``offset`` are ``None``/0 when the file
    has no symbol there (a stripped image: then ``offset`` is into the image).
    """

    image: str
    function: str | None = None
    offset: int = 0
    file: str | None = None
    line: int | None = None
    # False for an address in a file's data (a return address pointing there is garbage).
    code: bool = True

    def __str__(self) -> str:
        if self.function is None:
            return f"{self.image}+{self.offset:#x}"
        text = f"{self.function}+{self.offset:#x}"
        if self.file is not None and self.line is not None:
            text += f" ({self.file}:{self.line})"
        return text

    @property
    def short(self) -> str:
        """The function with its source line, without the offset: ``spin_lock (lock.c:13)``."""
        if self.function is None:
            return f"{self.image}+{self.offset:#x}"
        if self.file is not None and self.line is not None:
            return f"{self.function} ({self.file}:{self.line})"
        return self.function


@dataclass(frozen=True)
class Frame:
    """One frame of a backtrace: a return address, where it lies, or why the walk stopped."""

    pc: int
    where: Location | None = None
    unreadable: str | None = None


@dataclass(frozen=True)
class HartSample:
    """A hart at one sample: pc, instructions retired, traps taken, in wfi."""

    t: float
    pc: int
    instret: int | None
    traps: int | None
    wfi: bool
    mode: Privilege


@dataclass(frozen=True)
class HartAutopsy:
    """One hart's conclusion: its last state, samples, class, where it is, and its backtrace."""

    hart: int
    klass: HartClass
    note: str
    state: HartState | None = None
    samples: tuple[HartSample, ...] = ()
    where: Location | None = None
    ra_where: Location | None = None
    backtrace: tuple[Frame, ...] = ()
    reason: str | None = None
    # For a spinning hart: what its loop's exits wait on (None for the other classes).
    loop: LoopWait | None = None


@dataclass(frozen=True)
class Diagnosis:
    """The one line that sums the harts up, and its kind."""

    kind: DiagnosisKind
    summary: str

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class Autopsy:
    """Where every hart is at the end of a failing run.

    ``duration`` is the autopsy's own time (it starts after the verdict, whose timing it never
    changes); ``backend`` the module that read the harts. An autopsy that could not be taken has
    no harts and a diagnosis of kind ``unavailable`` whose summary is ``autopsy unavailable: <reason>``.
    """

    diagnosis: Diagnosis
    harts: tuple[HartAutopsy, ...] = ()
    backend: str = ""
    duration: float = 0.0
    samples: int = 0
    span: float = 0.0
    symbols: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # What Linux answered the console's SysRq keys (a plan's `[autopsy] sysrq`), when asked.
    sysrq: SysrqReport | None = None

    @classmethod
    def unavailable(cls, reason: str, *, backend: str = "", duration: float = 0.0) -> Autopsy:
        """The autopsy that could not be taken, with its reason (one line, no traceback)."""
        reason = " ".join(reason.split()) or "no reason given"
        return cls(
            Diagnosis(DiagnosisKind.UNAVAILABLE, f"autopsy unavailable: {reason}"), backend=backend, duration=duration
        )

    @property
    def available(self) -> bool:
        """True when the harts were read."""
        return self.diagnosis.kind != DiagnosisKind.UNAVAILABLE


# -- the SysRq probe's answer (parsed by harness.autopsy.sysrq) ---------------------------------

# Addresses of the kernel's own text on RISC-V (sv39 and up put it in the top half).
KERNEL_HALF = 1 << 63
# The kernel's exception entry on RISC-V: in an IPI's trace, the next frame is the interrupted code.
EXCEPTION_ENTRY = frozenset({"handle_exception", "ret_from_exception"})
# The frames a blocked task's trace starts with, before the function that blocked it.
SCHEDULER = ("__switch_to", "__schedule", "schedule", "io_schedule", "schedule_timeout", "schedule_preempt")


@dataclass(frozen=True)
class SysrqCpu:
    """One CPU as ``l`` showed it: the registers where it was interrupted (when printed) and the
    call trace, innermost first. A CPU shown by an IPI has a trace only."""

    cpu: int
    epc: int | None = None
    ra: int | None = None
    sp: int | None = None
    pid: int | None = None
    comm: str | None = None
    frames: tuple[Frame, ...] = ()
    where: Location | None = None
    ra_where: Location | None = None
    note: str | None = None

    @property
    def interrupted_in(self) -> Frame | None:
        """For a CPU shown by an IPI: the frame past the exception entry, where the IPI found it."""
        names = [_function(f) for f in self.frames]
        entries = [i for i, name in enumerate(names) if name in EXCEPTION_ENTRY]
        if entries and entries[-1] + 1 < len(self.frames):
            return self.frames[entries[-1] + 1]
        return None

    @property
    def user(self) -> bool:
        """The CPU was interrupted in user mode (its pc is below the kernel's half)."""
        return self.epc is not None and self.epc < KERNEL_HALF


@dataclass(frozen=True)
class SysrqTask:
    """One task ``w`` (or ``t``) listed: name, state, pid, and its call trace, innermost first."""

    name: str
    state: str
    pid: int
    frames: tuple[Frame, ...] = ()

    @property
    def blocked_in(self) -> Frame | None:
        """The first frame past the scheduler: where the task went to sleep."""
        for frame in self.frames:
            function = frame.where.function if frame.where else None
            if function is None or not function.startswith(SCHEDULER):
                return frame
        return self.frames[-1] if self.frames else None


@dataclass(frozen=True)
class SysrqReport:
    """What the probe asked and what the kernel answered: the lines as evidence, and parsed."""

    keys: str
    lines: tuple[str, ...]
    cpus: tuple[SysrqCpu, ...] = ()
    tasks: tuple[SysrqTask, ...] = ()
    headers: tuple[str, ...] = ()
    # Why the probe could not be taken (no BREAK on this target); ``None`` when it was.
    reason: str | None = None
    # Seconds the probe took (after the autopsy, which reports its own).
    duration: float = 0.0

    @property
    def answered(self) -> bool:
        """The kernel printed a SysRq header for at least one key (it heard the BREAK)."""
        return bool(self.headers)

    def summary(self) -> str:
        """One line: where each CPU was, which tasks are blocked where."""
        if self.reason is not None:
            return f"SysRq {self.keys}: unavailable: {self.reason}"
        if not self.answered:
            return f"SysRq {self.keys}: no answer (the kernel did not take the BREAK, or has no SysRq)"
        parts = []
        for cpu in self.cpus:
            if cpu.epc is not None:
                mode = "user mode" if cpu.user else "kernel"
                caller = f" from {cpu.ra_where}" if cpu.ra_where is not None else ""
                # Registers taken in an interrupt handler (a softirq on the way out): the trace
                # goes on past the exception entry to the code it interrupted.
                if (frame := cpu.interrupted_in) is not None:
                    caller += f", interrupted in {_name(frame.pc, frame.where)}"
                elif not cpu.user and cpu.frames and _function(cpu.frames[-1]) in EXCEPTION_ENTRY:
                    caller += ", interrupted in user mode"
                comm = f" ({cpu.comm})" if cpu.comm else ""
                parts.append(f"CPU{cpu.cpu} in {mode} at {_name(cpu.epc, cpu.where)}{caller}{comm}")
            elif (frame := cpu.interrupted_in) is not None:
                parts.append(f"CPU{cpu.cpu} interrupted in {_name(frame.pc, frame.where)}")
            elif cpu.frames and _function(cpu.frames[-1]) in EXCEPTION_ENTRY:
                # The trace ends at the exception entry: what the IPI interrupted ran in user mode.
                parts.append(f"CPU{cpu.cpu} interrupted in user mode")
            elif cpu.frames:
                parts.append(f"CPU{cpu.cpu} trace ends in {_name(cpu.frames[-1].pc, cpu.frames[-1].where)}")
            elif cpu.note:
                parts.append(f"CPU{cpu.cpu} {cpu.note}")
        for task in self.tasks:
            frame = task.blocked_in
            place = f" in {_name(frame.pc, frame.where)}" if frame else ""
            parts.append(f"{task.name} (pid {task.pid}) blocked, state {task.state}{place}")
        if "w" in self.keys and not self.tasks:
            parts.append("no blocked task")
        took = f" ({self.duration:.2f} s)" if self.duration else ""
        return f"SysRq {self.keys}{took}: " + ("; ".join(parts) or "nothing parsed")


def _function(frame: Frame) -> str | None:
    return frame.where.function if frame.where is not None else None


def _name(address: int, where: Location | None) -> str:
    return str(where) if where is not None else f"{address:#x}"
