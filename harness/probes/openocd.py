"""The ``serial`` board's autopsy: its harts through JTAG and OpenOCD (the board's ``[jtag]``).

A real HiFive Unmatched exposes its five harts on the FT2232's channel A, beside the console;
the virtual lab's serial board is the emulator with ``-jtag``. The probe starts OpenOCD from
the board's config (or reaches a running one's Tcl port), turns OpenOCD's background polling
off while it works (each poll of five harts costs dozens of JTAG scans), and per sample halts
the harts (one SMP group), reads the fields in one Tcl batch and resumes them. Memory for the
backtraces is read with the harts halted (halted once, at the first read); :meth:`close`
resumes them and shuts a started OpenOCD down. Every failure is ``openocd: <its error line>``.
"""

from __future__ import annotations

import re
import time

from harness.autopsy.model import HartGlance, HartMissing, HartState, Privilege, TrapCsrs
from harness.errors import ConfigError
from harness.probes.backend import AutopsyBackend, AutopsyUnavailable, Probe, Request
from harness.targets.openocd import OpenOcd, OpenOcdError, jtag_settings

# OpenOCD's register names for the fields of a HartState ("priv" is its virtual register).
FIELDS = ("priv", "pc", "ra", "sp", "fp", "mstatus", "mip", "mie", "mcause", "mepc", "mtval", "minstret")
S_FIELDS = ("satp", "scause", "sepc", "stval")
WFI = 0x10500073
# Read in full at the first and last sample; in between only these (a glance).
GLANCE_FIELDS = ("priv", "pc", "minstret")
# Tcl run once per session: hb_sample halts, reads every target and resumes; hb_mem reads bytes.
# The word before a pc (is the hart in wfi?) is read once per target, pc and privilege: a
# memory read through the system bus is as dear as a dozen registers.
PROCS = r"""
proc hb_regs {names} {
    set out ""
    foreach n $names {
        set v "-"
        if {![catch {capture [list reg $n]} text]} { regexp {: (0x[0-9a-fA-F]+)} $text -> v }
        append out "$n=$v "
    }
    return $out
}
proc hb_word {t line} {
    global hb_words
    # Only within pc's page: a read across a page (or below RAM) would fail and log an error.
    if {![regexp {pc=(0x[0-9a-fA-F]+)} $line -> pc] || ($pc & 0xfff) < 4} { return "-" }
    regexp {priv=(0x[0-9a-fA-F]+)} $line -> priv
    set key "$t,$pc,$priv"
    if {[info exists hb_words($key)]} { return $hb_words($key) }
    # M-mode or no translation: the pc is physical, and a physical read skips the page walk.
    set phys {}
    if {[regexp {priv=0x0*3 } $line] || [regexp {satp=0x0+ } $line]} { set phys phys }
    if {[catch {lindex [read_memory [expr {$pc - 4}] 32 1 {*}$phys] 0} w]} { return "-" }
    set hb_words($key) $w
    return $w
}
proc hb_sample {fields} {
    halt 3000
    set out ""
    foreach t [target names] {
        targets $t
        set line [hb_regs $fields]
        append out "HART $t $line wfiword=[hb_word $t $line]\n"
    }
    resume
    return $out
}
proc hb_mem {t address size} {
    targets $t
    return [read_memory $address 8 $size]
}
"""
# Between two samples the harts run at least this long: a halt right after the resume could
# find a hart that has not had a turn yet (on the emulator) and call it stopped.
MIN_RUN_S = 0.05
# A call gives up this long before the deadline, so its failure (OpenOCD's words) is reported
# rather than the framework's "did not answer".
CALL_MARGIN_S = 0.15
# Time kept for the framework after a read: a read that could not finish before is not made.
MARGIN_S = 0.5
HART_RE = re.compile(r"^HART (\S+) (.*)$", re.M)
FIELD_RE = re.compile(r"(\w+)=(0x[0-9a-fA-F]+|-)")


class OpenOcdProbe:
    """One OpenOCD session for one autopsy."""

    def __init__(self, session: OpenOcd, request: Request) -> None:
        self._session = session
        self._request = request
        self._targets: list[str] = []
        self._halted = False
        self._resumed_at: float | None = None

    def _tcl(self, command: str, *, from_start: bool = False) -> str:
        """``command`` wrapped so a Tcl error comes back as ``HB-ERROR <message>``; a failure is
        told in OpenOCD's first error line since the call began (since OpenOCD started, with
        ``from_start``: what went wrong while it examined the harts)."""
        wrapped = f'if {{[catch {{{command}}} hb_r]}} {{set hb_r "HB-ERROR $hb_r"}} else {{set hb_r}}'
        mark = 0 if from_start else self._session.mark()
        try:
            answer = self._session.tcl(wrapped, self._request.deadline - CALL_MARGIN_S)
        except OpenOcdError as exc:
            raise AutopsyUnavailable(f"openocd: {exc}") from None
        if answer.startswith("HB-ERROR"):
            # OpenOCD's first error line (the cause) says more than the Tcl error ("" or "halt failed").
            message = answer.removeprefix("HB-ERROR").strip().splitlines()
            line = self._session.first_error(mark) or (message[-1] if message else f"{command.split()[0]} failed")
            raise AutopsyUnavailable(f"openocd: {line}")
        return answer

    def prepare(self) -> None:
        """Load the procedures, stop background polling and learn the targets (one per hart)."""
        self._tcl(PROCS.strip() + "\npoll off", from_start=True)
        self._targets = self._tcl("target names", from_start=True).split()
        if not self._targets:
            raise AutopsyUnavailable("openocd: no target (does the config create the harts?)")
        # A target OpenOCD could not examine fails here, told by what went wrong at its start.
        self._tcl(
            'foreach t [target names] { if {![$t was_examined]} { error "$t was not examined" } }', from_start=True
        )

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        """Halt every hart, read them, resume them (one Tcl batch)."""
        rows = self._sample(FIELDS + S_FIELDS)
        return tuple(_hart(i, name, rows.get(name)) for i, name in enumerate(self._targets))

    def glance(self) -> tuple[HartGlance | HartMissing, ...]:
        """Halt every hart, read pc, privilege, minstret and wfi, resume them (a third of a full read)."""
        rows = self._sample(GLANCE_FIELDS)
        return tuple(_glance(i, name, rows.get(name)) for i, name in enumerate(self._targets))

    def _sample(self, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
        if self._resumed_at is not None:
            time.sleep(max(0.0, self._resumed_at + MIN_RUN_S - time.monotonic()))
        answer = self._tcl(f"hb_sample {{{' '.join(fields)}}}")
        self._resumed_at = time.monotonic()
        return {name: dict(FIELD_RE.findall(rest)) for name, rest in HART_RE.findall(answer)}

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """Bytes at virtual ``address`` as ``hart`` sees them (OpenOCD translates); harts halted."""
        if not 0 <= hart < len(self._targets) or self._request.remaining() < MARGIN_S:
            return None
        if not self._halted:
            self._tcl("halt 3000")
            self._halted = True
        try:
            answer = self._tcl(f"hb_mem {self._targets[hart]} {address:#x} {size}")
        except AutopsyUnavailable:
            return None
        values = answer.split()
        if len(values) != size:
            return None
        try:
            return bytes(int(v, 16) for v in values)
        except ValueError:
            return None

    def close(self) -> None:
        """Resume the harts, restore polling, shut a started OpenOCD down."""
        try:
            if self._halted and self._request.remaining() > MARGIN_S:
                self._tcl("resume")
            if not self._session.started and self._request.remaining() > MARGIN_S:
                self._tcl("poll on")
        except AutopsyUnavailable:
            pass
        finally:
            self._session.close()


def _number(row: dict[str, str], name: str) -> int | None:
    value = row.get(name, "-")
    return None if value == "-" else int(value, 16)


def _glance(index: int, target: str, row: dict[str, str] | None) -> HartGlance | HartMissing:
    """A HartGlance from one target's glance fields; missing when OpenOCD could not read them."""
    if row is None:
        return HartMissing(index, f"openocd gave nothing for {target}")
    priv, pc = _number(row, "priv"), _number(row, "pc")
    if priv is None or pc is None:
        return HartMissing(index, f"openocd could not read the pc of {target}")
    return HartGlance(
        index, Privilege.from_number(priv & 3), pc, _number(row, "wfiword") == WFI, instret=_number(row, "minstret")
    )


def _hart(index: int, target: str, row: dict[str, str] | None) -> HartState | HartMissing:
    """A HartState from one target's fields; missing when OpenOCD could not read them."""
    if row is None:
        return HartMissing(index, f"openocd gave nothing for {target}")
    values = {name: _number(row, name) for name in FIELDS}
    unread = [name for name, value in values.items() if value is None and name != "minstret"]
    if unread:
        return HartMissing(index, f"openocd could not read {', '.join(unread)} of {target}")
    s = {name: _number(row, name) for name in S_FIELDS}
    s_trap = None
    if s["scause"] is not None and s["sepc"] is not None and s["stval"] is not None:
        s_trap = TrapCsrs(s["scause"], s["sepc"], s["stval"])
    v = {name: value or 0 for name, value in values.items()}
    return HartState(
        hart=index,
        mode=Privilege.from_number(v["priv"] & 3),
        pc=v["pc"],
        ra=v["ra"],
        sp=v["sp"],
        fp=v["fp"],
        wfi=_number(row, "wfiword") == WFI,
        mstatus=v["mstatus"],
        mip=v["mip"],
        mie=v["mie"],
        satp=s["satp"] or 0,
        m_trap=TrapCsrs(v["mcause"], v["mepc"], v["mtval"]),
        s_trap=s_trap,
        instret=values["minstret"],
        traps=None,
    )


def open_probe(request: Request) -> Probe:
    """OpenOCD on the board's ``[jtag]``: the one the target started at power-on (examined and
    standing by), else started now from its config, or its running Tcl port."""
    try:
        settings = jtag_settings(request.board)
    except ConfigError as exc:
        raise AutopsyUnavailable(str(exc)) from None
    if settings is None:
        raise AutopsyUnavailable("no [jtag] section")
    session = None
    standing_by = getattr(request.target, "take_openocd", None)
    if callable(standing_by):
        try:
            session = standing_by(request.deadline - MARGIN_S)
        except OpenOcdError as exc:
            raise AutopsyUnavailable(f"openocd: {exc}") from None
    if not isinstance(session, OpenOcd):
        session = OpenOcd(settings)
        try:
            session.open(request.deadline - MARGIN_S)
        except OpenOcdError as exc:
            session.close()
            raise AutopsyUnavailable(f"openocd: {exc}") from None
    probe = OpenOcdProbe(session, request)
    try:
        probe.prepare()
    except AutopsyUnavailable:
        probe.close()
        raise
    return probe


BACKEND = AutopsyBackend(name="openocd", open=open_probe)
