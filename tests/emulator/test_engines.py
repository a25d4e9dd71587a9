"""harness.emulator.engines: the interpreter and the block engine run the same guest.

Both run every quantum to the same instruction (``machine.QUANTUM``), so an SMP guest's harts
interleave the same way whichever engine runs them: the same console, and the same
instructions per hart after every scheduling round.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.emulator.blocks import BlockEngine
from harness.emulator.console import MemoryConsole
from harness.emulator.devices.test import MachineExit
from harness.emulator.machine import Machine, MachineConfig
from harness.emulator.translate import HOT_THRESHOLD

from .conftest import PROGRAMS, link, needs_gcc

# Far more rounds than the program needs (about 100): a hang fails instead of running on.
MAX_ROUNDS = 5000


def run_rounds(elf: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, list[list[int]], Machine]:
    """Run ``elf`` on three harts with ``engine`` to power-off: console, each round's
    instruction counts per hart, and the machine."""
    monkeypatch.setenv("HARTBEAT_EMU_ENGINE", engine)
    console = MemoryConsole()
    machine = Machine(MachineConfig(board="virt", smp=3, bios="none", kernel=str(elf)), console)
    assert {h.engine.name for h in machine.harts} == {engine}
    rounds: list[list[int]] = []
    with pytest.raises(MachineExit) as exited:
        while len(rounds) < MAX_ROUNDS:
            if not machine.step_round():
                machine.idle()
            rounds.append([h.icount for h in machine.harts])
    assert exited.value.status == 0
    return bytes(console.output), rounds, machine


@needs_gcc
def test_both_engines_run_an_smp_guest_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elf = link(PROGRAMS / "smp_lockstep.S", tmp_path / "smp_lockstep.elf")
    out_i, rounds_i, machine_i = run_rounds(elf, "interp", monkeypatch)
    out_b, rounds_b, machine_b = run_rounds(elf, "blocks", monkeypatch)
    # The guest did what the test is about: 24 turns per hart, interleaved, timer ticks among them.
    letters = out_i.replace(b"*", b"").strip()
    assert sorted(letters) == sorted(b"ABC" * 24), out_i
    assert b"AAAAAAAAAAAAAAAAAAAAAAAA" not in letters, out_i
    assert out_i.count(b"*") >= 3, out_i
    # The block engine compiled the hot loops into regions (the path that differed).
    assert all(isinstance(h.engine, BlockEngine) for h in machine_b.harts)
    regions = [b for h in machine_b.harts for page in h.engine.blocks.values() for b in page.values()]
    assert any(b.runs[0] >= HOT_THRESHOLD for b in regions)
    # Same guest: console, per-hart counts after every round, traps taken.
    assert out_b == out_i
    first = next((i for i, (a, b) in enumerate(zip(rounds_i, rounds_b, strict=False)) if a != b), None)
    assert first is None, f"round {first + 1}: interp {rounds_i[first]}, blocks {rounds_b[first]}"
    assert len(rounds_b) == len(rounds_i)
    assert [h.traps for h in machine_b.harts] == [h.traps for h in machine_i.harts]
    assert machine_i.harts[0].traps > 24 * 20  # every hole load faulted (and the ticks)
