"""The QEMU backend's monitor fallback: ``info registers -a`` as QEMU 7.2 prints it (tests/probes/data).

The backend itself boots QEMU: tests/images/test_qsoe_autopsy_qemu.py.
"""

from __future__ import annotations

from pathlib import Path

from harness.probes.qemu import monitor_registers

DATA = Path(__file__).resolve().parent / "data"


def test_info_registers_gives_each_cpus_csrs_by_name() -> None:
    cpus = monitor_registers((DATA / "qemu-info-registers.txt").read_text())
    assert sorted(cpus) == [0, 1]
    assert cpus[0]["pc"] == 0x80006116 and cpus[1]["pc"] == 0x80000804
    assert cpus[1]["mhartid"] == 1
    for name in ("mstatus", "mip", "mie", "mcause", "mepc", "mtval", "scause", "sepc", "stval", "satp"):
        assert name in cpus[0], name
    # Four GPRs to a line are not one register each: the stub's description gives those.
    assert "x0" not in cpus[0]
