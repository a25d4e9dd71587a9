"""The autopsy as ``report.json`` stores it, and read back (replay, compare, bisect).

Addresses are hex strings (``"0x80001234"``): JSON numbers lose precision above 2^53 and
a Linux address is far above. The README's "report.json" section documents every field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.autopsy.model import (
    MSTATUS_MIE,
    MSTATUS_SIE,
    Autopsy,
    Diagnosis,
    DiagnosisKind,
    Frame,
    HartAutopsy,
    HartClass,
    HartSample,
    HartState,
    Location,
    LoopWait,
    Privilege,
    SysrqCpu,
    SysrqReport,
    SysrqTask,
    TrapCsrs,
)


def _hex(value: int) -> str:
    return f"{value:#x}"


def _location(where: Location | None) -> dict[str, Any] | None:
    if where is None:
        return None
    return {
        "text": str(where),
        "image": where.image,
        "function": where.function,
        "offset": _hex(where.offset),
        "file": where.file,
        "line": where.line,
    }


def _state(state: HartState) -> dict[str, Any]:
    trap = state.trap
    return {
        "mode": state.mode.value,
        "pc": _hex(state.pc),
        "ra": _hex(state.ra),
        "sp": _hex(state.sp),
        "fp": _hex(state.fp),
        "wfi": state.wfi,
        "cause": _hex(trap.cause),
        "epc": _hex(trap.epc),
        "tval": _hex(trap.tval),
        "trap_mode": state.trap_mode.value,
        "m_trap": [_hex(state.m_trap.cause), _hex(state.m_trap.epc), _hex(state.m_trap.tval)],
        "s_trap": None
        if state.s_trap is None
        else [_hex(v) for v in (state.s_trap.cause, state.s_trap.epc, state.s_trap.tval)],
        "satp": _hex(state.satp),
        "satp_mode": state.satp_mode,
        "asid": state.asid,
        "mstatus": _hex(state.mstatus),
        "mstatus_mie": bool(state.mstatus & MSTATUS_MIE),
        "mstatus_sie": bool(state.mstatus & MSTATUS_SIE),
        "mip": _hex(state.mip),
        "mie": _hex(state.mie),
        "instret": state.instret,
        "traps": state.traps,
    }


def autopsy_to_json(autopsy: Autopsy) -> dict[str, Any]:
    """The ``autopsy`` object of ``report.json``."""
    return {
        "available": autopsy.available,
        "diagnosis": autopsy.diagnosis.summary,
        "kind": autopsy.diagnosis.kind.value,
        "backend": autopsy.backend,
        "duration": round(autopsy.duration, 3),
        "samples": autopsy.samples,
        "span": round(autopsy.span, 3),
        "symbols": list(autopsy.symbols),
        "notes": list(autopsy.notes),
        "sysrq": None if autopsy.sysrq is None else _sysrq(autopsy.sysrq),
        "harts": [
            {
                "hart": h.hart,
                "class": h.klass.value,
                "note": h.note,
                "reason": h.reason,
                "loop": None if h.loop is None else h.loop.value,
                "where": _location(h.where),
                "ra_where": _location(h.ra_where),
                "state": None if h.state is None else _state(h.state),
                "samples": [
                    {
                        "t": round(s.t, 3),
                        "pc": _hex(s.pc),
                        "instret": s.instret,
                        "traps": s.traps,
                        "wfi": s.wfi,
                        "mode": s.mode.value,
                    }
                    for s in h.samples
                ],
                "backtrace": [
                    {"pc": _hex(f.pc), "where": _location(f.where), "unreadable": f.unreadable} for f in h.backtrace
                ],
            }
            for h in autopsy.harts
        ],
    }


def autopsy_from_json(data: object) -> Autopsy | None:
    """Read back :func:`autopsy_to_json`'s object; ``None`` when absent or not one (an old report)."""
    if not isinstance(data, dict):
        return None
    try:
        harts = tuple(_hart_from(item) for item in data.get("harts", []))
        return Autopsy(
            Diagnosis(DiagnosisKind(data["kind"]), str(data["diagnosis"])),
            harts=harts,
            backend=str(data.get("backend", "")),
            duration=float(data.get("duration", 0.0)),
            samples=int(data.get("samples", 0)),
            span=float(data.get("span", 0.0)),
            symbols=tuple(str(s) for s in data.get("symbols", [])),
            notes=tuple(str(n) for n in data.get("notes", [])),
            sysrq=_sysrq_from(data.get("sysrq")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _int(text: Any) -> int:
    return int(str(text), 0)


def _location_from(data: Any) -> Location | None:
    if not isinstance(data, dict):
        return None
    return Location(
        image=str(data["image"]),
        function=data.get("function"),
        offset=_int(data.get("offset", "0")),
        file=data.get("file"),
        line=data.get("line"),
    )


def _state_from(data: Any) -> HartState | None:
    if not isinstance(data, dict):
        return None
    m = [_int(v) for v in data["m_trap"]]
    s = None if data.get("s_trap") is None else [_int(v) for v in data["s_trap"]]
    return HartState(
        hart=0,
        mode=Privilege(data["mode"]),
        pc=_int(data["pc"]),
        ra=_int(data["ra"]),
        sp=_int(data["sp"]),
        fp=_int(data["fp"]),
        wfi=bool(data["wfi"]),
        mstatus=_int(data["mstatus"]),
        mip=_int(data["mip"]),
        mie=_int(data["mie"]),
        satp=_int(data["satp"]),
        m_trap=TrapCsrs(*m),
        s_trap=None if s is None else TrapCsrs(*s),
        instret=data.get("instret"),
        traps=data.get("traps"),
    )


def _hart_from(item: Any) -> HartAutopsy:
    hart = int(item["hart"])
    state = _state_from(item.get("state"))
    if state is not None:
        state = replace(state, hart=hart)
    return HartAutopsy(
        hart=hart,
        klass=HartClass(item["class"]),
        note=str(item["note"]),
        state=state,
        samples=tuple(
            HartSample(
                float(s["t"]), _int(s["pc"]), s.get("instret"), s.get("traps"), bool(s["wfi"]), Privilege(s["mode"])
            )
            for s in item.get("samples", [])
        ),
        where=_location_from(item.get("where")),
        ra_where=_location_from(item.get("ra_where")),
        backtrace=tuple(
            Frame(_int(f["pc"]), _location_from(f.get("where")), f.get("unreadable")) for f in item.get("backtrace", [])
        ),
        reason=item.get("reason"),
        loop=None if item.get("loop") is None else LoopWait(item["loop"]),
    )


def _frames(frames: tuple[Frame, ...]) -> list[dict[str, Any]]:
    return [{"pc": _hex(f.pc), "where": _location(f.where)} for f in frames]


def _frames_from(items: Any) -> tuple[Frame, ...]:
    return tuple(Frame(_int(f["pc"]), _location_from(f.get("where"))) for f in items or [])


def _sysrq(report: SysrqReport) -> dict[str, Any]:
    """What Linux answered the SysRq keys: the summary, the parsed CPUs and tasks, the lines."""
    return {
        "keys": report.keys,
        "answered": report.answered,
        "reason": report.reason,
        "duration": round(report.duration, 3),
        "summary": report.summary(),
        "cpus": [
            {
                "cpu": c.cpu,
                "epc": None if c.epc is None else _hex(c.epc),
                "ra": None if c.ra is None else _hex(c.ra),
                "sp": None if c.sp is None else _hex(c.sp),
                "user": c.user,
                "pid": c.pid,
                "comm": c.comm,
                "note": c.note,
                "where": _location(c.where),
                "ra_where": _location(c.ra_where),
                "frames": _frames(c.frames),
            }
            for c in report.cpus
        ],
        "tasks": [{"name": t.name, "state": t.state, "pid": t.pid, "frames": _frames(t.frames)} for t in report.tasks],
        "headers": list(report.headers),
        "lines": list(report.lines),
    }


def _sysrq_from(data: Any) -> SysrqReport | None:
    if not isinstance(data, dict):
        return None

    def address(value: Any) -> int | None:
        return None if value is None else _int(value)

    return SysrqReport(
        keys=str(data["keys"]),
        lines=tuple(str(line) for line in data.get("lines", [])),
        cpus=tuple(
            SysrqCpu(
                cpu=int(c["cpu"]),
                epc=address(c.get("epc")),
                ra=address(c.get("ra")),
                sp=address(c.get("sp")),
                pid=c.get("pid"),
                comm=c.get("comm"),
                frames=_frames_from(c.get("frames")),
                where=_location_from(c.get("where")),
                ra_where=_location_from(c.get("ra_where")),
                note=c.get("note"),
            )
            for c in data.get("cpus", [])
        ),
        tasks=tuple(
            SysrqTask(str(t["name"]), str(t["state"]), int(t["pid"]), _frames_from(t.get("frames")))
            for t in data.get("tasks", [])
        ),
        headers=tuple(str(h) for h in data.get("headers", [])),
        reason=data.get("reason"),
        duration=float(data.get("duration", 0.0)),
    )
