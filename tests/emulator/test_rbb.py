"""The remote_bitbang server's bulk shift ("[01]R[45]" runs) against the TAP edge by edge."""

from __future__ import annotations

import random

from harness.emulator.debug.jtag import IR_DMI, Tap
from harness.emulator.debug.rbb import RemoteBitbangServer


class Registers:
    """A DMI whose registers hold what was written (reads of others give their address)."""

    def __init__(self) -> None:
        self.values: dict[int, int] = {}

    def dmi_read(self, address: int) -> int:
        return self.values.get(address, address * 0x01010101)

    def dmi_write(self, address: int, value: int) -> None:
        self.values[address] = value


class Answers(RemoteBitbangServer):
    """The server's byte handling without a socket: answers are collected."""

    def __init__(self) -> None:
        self.tap = Tap(Registers(), 0x20000913)
        self.client = None
        self.pending = b""
        self.answers = bytearray()

    def _send(self, data: bytes) -> None:
        self.answers += data


def edge_by_edge(tap: Tap, data: bytes) -> bytes:
    """The reference: every byte through Tap.clock and Tap.tdo."""
    out = bytearray()
    for byte in data:
        if 48 <= byte <= 55:
            bits = byte - 48
            tap.clock(bool(bits & 4), bool(bits & 2), bool(bits & 1))
        elif byte == ord("R"):
            out.append(48 + tap.tdo())
    return bytes(out)


def scan(bits: int, value: int, read: bool, rng: random.Random) -> bytes:
    """Idle -> Shift-DR, ``bits`` bits of ``value`` (TMS on the last), -> Update-DR -> Idle."""
    out = bytearray(b"26040404")
    for i in range(bits):
        tms = 2 if i == bits - 1 else 0
        tdi = value >> i & 1
        out += bytes([48 + tms + tdi]) + (b"R" if read else b"") + bytes([52 + tms + tdi])
        if rng.random() < 0.02:
            out += bytes([52 + tms + tdi])  # TCK stays high: no second edge
    return bytes(out + b"2604")


def test_bulk_shifts_answer_and_leave_the_tap_as_edge_by_edge_does() -> None:
    rng = random.Random(20)
    server, reference = Answers(), Tap(Registers(), 0x20000913)
    stream = bytearray(b"26262626260404")  # Test-Logic-Reset, then Idle
    stream += b"26260404" + b"1R50R40R40R4" + b"3R7" + b"2604"  # IR = 0x11 (DMI), low bit first
    for _ in range(300):
        bits = rng.choice((41, 41, 41, 32, 5, 9, 200))
        stream += scan(bits, rng.getrandbits(bits), rng.random() < 0.8, rng)
    expected = edge_by_edge(reference, bytes(stream))
    # Chunks cut anywhere, as TCP delivers them.
    position = 0
    while position < len(stream):
        size = rng.randint(1, 400)
        server._process(bytes(stream[position : position + size]))
        position += size
    assert bytes(server.answers) == expected
    assert (server.tap.state, server.tap.shift, server.tap.ir, server.tap.tck) == (
        reference.state,
        reference.shift,
        reference.ir,
        reference.tck,
    )
    assert server.tap.ir == IR_DMI
    assert server.tap.dmi.values == reference.dmi.values  # type: ignore[attr-defined]
    assert len(server.tap.dmi.values) > 50  # type: ignore[attr-defined]  # the scans did write
