"""The ``qemu`` target's autopsy: QEMU's gdbstub, one thread per hart.

Each sample stops the guest (the stub's interrupt), reads every hart's registers and CSRs by the
names QEMU's target description gives them, and lets the guest run on, so the next sample
finds it moved. The last sample leaves the guest stopped: the stacks are then walked in the
state that was read, and power-off (or ``run --hold``'s debugger) finds it as the autopsy left it.

What QEMU cannot tell: instructions retired. Without ``-icount`` QEMU's ``minstret`` counts host
ticks, which grow on a sleeping hart too, so the probe reports no count (``instret`` is ``None``)
unless the command line has ``-icount``. A hart in ``wfi`` is halted with its pc on the next
instruction: the probe reads the word before the pc to tell.
A register the description lacks is taken from the monitor's ``info registers -a``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

from harness.autopsy.model import INTERRUPT_BIT, HartMissing, HartState, Privilege, TrapCsrs
from harness.probes.backend import AutopsyBackend, AutopsyUnavailable, Probe, Request
from harness.targets.gdbstub import GdbError, GdbRemote
from harness.targets.qemu import QemuTarget

WFI = (0x10500073).to_bytes(4, "little")
# gdb's names for what HartState holds (x8 is `fp` in QEMU's description).
REGISTERS = ("pc", "ra", "sp", "fp", "priv", "mstatus", "mip", "mie", "satp", "mhartid")
TRAP_REGISTERS = ("mcause", "mepc", "mtval", "scause", "sepc", "stval")
VECTORS = ("mtvec", "stvec")
# A read that finds a hart entering an interrupt is taken again this many times, this far apart.
RETAKES = 2
RETAKE_DELAY = 0.002
# Wanted but not every machine has them: a hart without S-mode has no scause.
OPTIONAL = frozenset({"scause", "sepc", "stval", "satp", "mhartid", "minstret", "mtvec", "stvec"})
_MONITOR_LINE = re.compile(r"^\s*([a-z][a-z0-9]*)\s+([0-9a-fA-F]{8,16})\s*$")


def entering_interrupt(state: HartState, mtvec: int | None, stvec: int | None) -> bool:
    """The hart is between two states: on the vector of an interrupt its mode's trap CSRs say it
    has just taken, or halted in ``wfi`` with an enabled interrupt pending (it is waking up)."""
    if state.wfi and state.pending_enabled:
        return True
    trap, vector = (state.m_trap, mtvec) if state.mode is Privilege.M else (state.trap, stvec)
    if vector is None or not trap.interrupt:
        return False
    base = vector & ~3
    # Vectored mode (1) sends interrupt n to base + 4n; direct mode (0) everything to base.
    target = base + 4 * (trap.cause & ~INTERRUPT_BIT) if vector & 3 == 1 else base
    return state.pc == target


def monitor_registers(text: str) -> dict[int, dict[str, int]]:
    """``info registers -a`` as ``{cpu index: {name: value}}`` (the ``CPU#n`` blocks)."""
    cpus: dict[int, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in text.splitlines():
        if m := re.match(r"^CPU#(\d+)", line):
            current = cpus.setdefault(int(m.group(1)), {})
        elif current is not None and (m := _MONITOR_LINE.match(line)):
            current.setdefault(m.group(1), int(m.group(2), 16))
    return cpus


class QemuProbe:
    """The gdbstub connection for one autopsy; the guest is stopped while it is read."""

    def __init__(self, stub: GdbRemote, request: Request, counts_instructions: bool) -> None:
        self._stub = stub
        self._request = request
        self._threads = stub.threads()
        if not self._threads:
            raise AutopsyUnavailable("QEMU's gdbstub lists no harts")
        self._counts = counts_instructions
        self._running = False
        self._reads = 0
        self._monitor: dict[int, dict[str, int]] | None = None
        missing = [n for n in (*REGISTERS, *TRAP_REGISTERS) if n not in stub.registers and n not in OPTIONAL]
        if missing:
            # An older QEMU without the CSR description: the monitor has the CSRs (not priv).
            self._monitor = self._read_monitor()

    def _call(self) -> None:
        if self._request.expired():
            raise AutopsyUnavailable("QEMU's gdbstub did not answer in time")
        self._stub.timeout = self._request.remaining()

    def _stop(self) -> None:
        if self._running:
            self._call()
            self._stub.interrupt()
            self._running = False

    def _read_monitor(self) -> dict[int, dict[str, int]]:
        try:
            return monitor_registers(self._stub.monitor("info registers -a"))
        except GdbError as exc:
            raise AutopsyUnavailable(f"QEMU's monitor (info registers -a): {exc}") from None

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        """Stop the guest, read every hart, and (but after the last sample) let it run on.

        Stopping a TCG vCPU takes a pending interrupt first, so a stop often finds a busy hart on
        its trap vector, one instruction into an interrupt it would have taken a moment later
        anyway, or a sleeping hart with the interrupt that wakes it just raised: such a read is
        taken again (at most :data:`RETAKES` times) a moment later. A state that lasts (an
        interrupt that never stops coming) is still what the last read says.
        """
        try:
            for attempt in range(RETAKES + 1):
                self._stop()
                reads = [self._hart(index, thread) for index, thread in enumerate(self._threads)]
                if attempt == RETAKES or not any(entering for _, entering in reads):
                    break
                self._stub.resume()
                self._running = True
                time.sleep(RETAKE_DELAY)
            self._reads += 1
            if self._reads < self._request.settings.samples:
                self._stub.resume()
                self._running = True
        except GdbError as exc:
            raise AutopsyUnavailable(f"QEMU's gdbstub: {exc}") from None
        return tuple(hart for hart, _ in reads)

    def _hart(self, index: int, thread: str) -> tuple[HartState | HartMissing, bool]:
        """One hart, and whether it stands on its trap vector having just taken an interrupt."""
        self._call()
        self._stub.select(thread)
        values = self._stub.read_registers([*REGISTERS, *TRAP_REGISTERS, *VECTORS, "minstret"])
        if self._monitor is not None:
            for name, value in self._monitor.get(index, {}).items():
                if values.get(name) is None:
                    values[name] = value
        absent = [n for n in (*REGISTERS, *TRAP_REGISTERS) if values.get(n) is None and n not in OPTIONAL]
        if absent:
            return HartMissing(index, f"QEMU reports no {', '.join(absent)} for this hart"), False
        state = self._state(index, values)
        return state, entering_interrupt(state, values.get("mtvec"), values.get("stvec"))

    def _state(self, index: int, v: Mapping[str, int | None]) -> HartState:
        def get(name: str) -> int:
            value = v.get(name)
            return 0 if value is None else value

        pc = get("pc")
        s_trap = None
        if v.get("scause") is not None:
            s_trap = TrapCsrs(get("scause"), get("sepc"), get("stval"))
        return HartState(
            hart=v["mhartid"] if v.get("mhartid") is not None else index,  # type: ignore[arg-type]
            mode=Privilege.from_number(get("priv")),
            pc=pc,
            ra=get("ra"),
            sp=get("sp"),
            fp=get("fp"),
            wfi=self._halted_at(pc),
            mstatus=get("mstatus"),
            mip=get("mip"),
            mie=get("mie"),
            satp=get("satp"),
            m_trap=TrapCsrs(get("mcause"), get("mepc"), get("mtval")),
            s_trap=s_trap,
            instret=v.get("minstret") if self._counts else None,
        )

    def _halted_at(self, pc: int) -> bool:
        """The instruction before the pc is a ``wfi``: QEMU halts a hart there with pc past it."""
        try:
            return self._stub.read_memory(pc - 4, 4) == WFI
        except GdbError:
            return False

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """Memory as ``hart`` sees it (its own translation); stops the guest first."""
        try:
            self._stop()
            self._call()
            self._stub.select(self._thread_of(hart))
            return self._stub.read_memory(address, size)
        except GdbError:
            return None

    def _thread_of(self, hart: int) -> str:
        # QEMU numbers its threads in hart order; a hart id beyond them is the last thread's.
        return self._threads[min(hart, len(self._threads) - 1)]

    def close(self) -> None:
        """Let the guest run on as it was, and drop the connection.

        A stopped guest would not answer the SysRq probe that may follow; ``run --hold`` stops
        it again through QMP.
        """
        try:
            if not self._running:
                self._stub.resume()
        except GdbError:
            pass
        self._stub.close()


def open_probe(request: Request) -> Probe:
    """Connect to the gdbstub of the run's QEMU (connecting stops the guest)."""
    target = request.target
    if not isinstance(target, QemuTarget):
        raise AutopsyUnavailable("not a QEMU target")
    if target.gdb_address is None:
        raise AutopsyUnavailable("QEMU was started without a gdbstub the harness can reach")
    if not target.console().alive():
        raise AutopsyUnavailable(f"QEMU is not running ({target.console().exit_description()})")
    stub = GdbRemote(target.gdb_address, timeout=request.remaining())
    try:
        stub.connect(wait=min(1.0, request.remaining()))
        return QemuProbe(stub, request, counts_instructions="-icount" in target.argv)
    except GdbError as exc:
        stub.close()
        raise AutopsyUnavailable(f"QEMU's gdbstub: {exc}") from None
    except AutopsyUnavailable:
        stub.close()
        raise


BACKEND = AutopsyBackend(name="qemu", open=open_probe)
