"""Device models: PLIC claim/complete, UART status and interrupts, CLINT timer, test finisher."""

from __future__ import annotations

import pytest

from harness.emulator.clock import Clock
from harness.emulator.devices.clint import Clint
from harness.emulator.devices.plic import CONTEXT_BASE, ENABLE_BASE, Plic, PlicContext
from harness.emulator.devices.sifive_uart import SifiveUart
from harness.emulator.devices.test import MachineExit, MachineReset, TestDevice
from harness.emulator.devices.uart16550 import Uart16550
from harness.emulator.trap import MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP


class Lines:
    def __init__(self) -> None:
        self.mip: dict[int, int] = {}

    def set(self, hart: int, bit: int, level: bool) -> None:
        value = self.mip.get(hart, 0)
        self.mip[hart] = value | bit if level else value & ~bit


def test_plic_routes_claims_and_completes() -> None:
    lines = Lines()
    plic = Plic(32, [PlicContext(0, MIP_MEIP), PlicContext(0, MIP_SEIP)], lines.set)
    plic.write(10 * 4, 4, 1)  # priority of source 10
    plic.write(ENABLE_BASE + 0x80, 4, 1 << 10)  # enable for the S context
    plic.set_level(10, True)
    assert lines.mip[0] == MIP_SEIP
    assert plic.read(CONTEXT_BASE + 0x1000 + 4, 4) == 10  # claim
    assert lines.mip[0] == 0
    plic.set_level(10, True)  # still high while in service: not pending again yet
    assert lines.mip[0] == 0
    plic.write(CONTEXT_BASE + 0x1000 + 4, 4, 10)  # complete re-arms a still-high line
    assert lines.mip[0] == MIP_SEIP
    plic.write(CONTEXT_BASE + 0x1000, 4, 1)  # threshold masks priority 1
    assert lines.mip[0] == 0


def test_ns16550_receive_status_and_interrupt() -> None:
    out: list[bytes] = []
    irq: list[bool] = []
    uart = Uart16550(out.append, irq.append)
    assert uart.read(5, 1) & 0x61 == 0x60  # THR empty, no data
    uart.write(1, 1, 1)  # IER: receive data available
    uart.receive(b"ab")
    assert irq[-1] is True
    assert uart.read(2, 1) & 0x0F == 0x04
    assert uart.read(5, 1) & 1
    assert uart.read(0, 1) == ord("a")
    assert uart.read(0, 1) == ord("b")
    assert irq[-1] is False
    uart.write(0, 1, ord("z"))
    assert out == [b"z"]


def test_ns16550_break_reads_as_nul_with_break_interrupt_in_order() -> None:
    irq: list[bool] = []
    uart = Uart16550(lambda data: None, irq.append)
    uart.write(1, 1, 1)  # IER: receive data available
    uart.receive(b"a")
    assert uart.receive_break()
    uart.receive(b"l")
    assert uart.read(5, 1) & 0x11 == 0x01  # data, no break yet
    assert uart.read(0, 1) == ord("a")
    assert uart.read(5, 1) & 0x11 == 0x11  # the break: DR and BI, as Linux's 8250 driver reads it
    assert uart.read(0, 1) == 0
    assert uart.read(5, 1) & 0x11 == 0x01
    assert uart.read(0, 1) == ord("l")
    assert irq[-1] is False


def test_ns16550_divisor_latch_does_not_transmit() -> None:
    out: list[bytes] = []
    uart = Uart16550(out.append, lambda level: None)
    uart.write(3, 1, 0x80)
    uart.write(0, 1, 0x01)
    uart.write(3, 1, 0x03)
    assert out == [] and uart.dll == 1


def test_sifive_uart_rx_empty_flag_and_watermark() -> None:
    irq: list[bool] = []
    uart = SifiveUart(lambda data: None, irq.append)
    assert uart.read(4, 4) == 1 << 31
    uart.write(0x10, 4, 2)  # rxwm interrupt enable
    uart.receive(b"q")
    assert irq[-1] is True and uart.read(0x14, 4) & 2
    assert uart.read(4, 4) == ord("q")
    assert irq[-1] is False


def test_clint_timer_and_software_interrupts() -> None:
    lines = Lines()
    clock = Clock(10_000_000)
    clint = Clint(2, clock, lines.set)
    clint.write(4, 4, 1)
    assert lines.mip[1] == MIP_MSIP
    clint.write(0x4000, 8, 0)
    assert lines.mip[0] & MIP_MTIP
    clint.write(0x4000 + 4, 4, 0xFFFFFFFF)  # upper half written separately
    assert not lines.mip[0] & MIP_MTIP
    assert clint.read(0x4004, 4) == 0xFFFFFFFF
    first = clint.read(0xBFF8, 8)
    assert clint.read(0xBFF8, 8) >= first


def test_finisher_codes() -> None:
    dev = TestDevice()
    with pytest.raises(MachineExit) as exc:
        dev.write(0, 4, 0x5555)
    assert exc.value.status == 0
    with pytest.raises(MachineExit) as exc:
        dev.write(0, 4, 3 << 16 | 0x3333)
    assert exc.value.status == 3
    with pytest.raises(MachineReset):
        dev.write(0, 4, 0x7777)
