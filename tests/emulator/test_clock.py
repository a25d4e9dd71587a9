"""The guest clock: ticks from instructions, idle skips to the next deadline, never backwards."""

from __future__ import annotations

from harness.emulator.clock import INSTRUCTIONS_PER_TICK, Clock
from harness.emulator.console import MemoryConsole
from harness.emulator.devices.clint import NEVER
from harness.emulator.machine import Machine, MachineConfig


def test_ticks_follow_instructions_not_the_host() -> None:
    clock = Clock(10_000_000)
    clock.advance(INSTRUCTIONS_PER_TICK * 3 - 1)
    assert clock.mtime() == 2
    clock.advance(1)  # the spare instructions carry over to the next call
    assert clock.mtime() == 3
    clock.skip_to(1000)
    assert clock.mtime() == 1000
    clock.skip_to(10)  # a deadline already passed does not move time back
    assert clock.mtime() == 1000
    clock.set_mtime(5)  # a guest write to mtime does
    assert clock.mtime() == 5


def test_the_next_deadline_is_the_earliest_one_still_ahead() -> None:
    # Debian's OpenSBI as the only image: the machine is built, never run.
    machine = Machine(MachineConfig(board="virt", smp=2), MemoryConsole())
    assert machine.next_deadline() == NEVER
    machine.clock.set_mtime(500)
    machine.clint.mtimecmp[0] = 100  # passed and masked: it woke nobody, so it is no deadline
    machine.clint.mtimecmp[1] = 9000
    assert machine.next_deadline() == 9000
    hart = machine.harts[0]
    hart.menvcfg = 1 << 63  # Sstc on: stimecmp counts too
    hart.stimecmp = 700
    assert machine.next_deadline() == 700
