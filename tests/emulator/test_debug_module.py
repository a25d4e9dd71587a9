"""The emulator's Debug Module, driven through the DMI (in process, on both engines), and its
JTAG TAP over the remote_bitbang protocol (a socket client)."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from harness.emulator.console import MemoryConsole
from harness.emulator.debug import dm as D
from harness.emulator.debug.dm import DebugModule
from harness.emulator.machine import Machine, MachineConfig

from .conftest import build_elf, needs_gcc

pytestmark = needs_gcc

# Every hart: s1 = hartid * 100 + 7 (and f3 = s1 as a double where F/D exist), then count in
# s2 for ever, storing each count to counters[hartid].
SPIN = r"""
    .option norvc
_start:
    csrr a0, mhartid
    li t0, 100
    mul s1, a0, t0
    addi s1, s1, 7
    csrr t0, misa
    andi t0, t0, 8
    beqz t0, 2f
    li t0, 1 << 13
    csrs mstatus, t0
    fcvt.d.l f3, s1
2:  la t1, counters
    slli t2, a0, 3
    add t1, t1, t2
    li s2, 0
    .globl loop
loop:
    addi s2, s2, 1
    sd s2, 0(t1)
    j loop
    .data
    .balign 4096
    .globl counters
counters:
    .dword 0, 0, 0, 0, 0, 0, 0, 0
"""
COUNTERS = 0x80001000

GPR, FPR = 0x1000, 0x1020
S1, S2 = GPR + 9, GPR + 18
CSR_MISA, CSR_MCAUSE, CSR_TSELECT, CSR_TDATA1, CSR_TDATA2, CSR_DCSR, CSR_DPC = (
    0x301, 0x342, 0x7A0, 0x7A1, 0x7A2, 0x7B0, 0x7B1,
)  # fmt: skip


class Driver:
    """A debugger's view of the DM: the register accesses OpenOCD makes, in miniature."""

    def __init__(self, dm: DebugModule) -> None:
        self.dm = dm
        dm.dmi_write(D.DMCONTROL, 1)

    def select(self, hart: int) -> None:
        self.dm.dmi_write(D.DMCONTROL, 1 | hart << 16)

    def status(self) -> int:
        return self.dm.dmi_read(D.DMSTATUS)

    def halt(self, hart: int) -> None:
        self.dm.dmi_write(D.DMCONTROL, 1 << 31 | 1 | hart << 16)
        self.select(hart)

    def resume(self, hart: int) -> None:
        self.dm.dmi_write(D.DMCONTROL, 1 << 30 | 1 | hart << 16)

    def command(self, cmd: int) -> int:
        self.dm.dmi_write(D.COMMAND, cmd)
        err = self.dm.dmi_read(D.ABSTRACTCS) >> 8 & 7
        self.dm.dmi_write(D.ABSTRACTCS, 7 << 8)
        return err

    def read(self, regno: int) -> int:
        err = self.command(3 << 20 | 1 << 17 | regno)
        assert err == 0, f"reading {regno:#x}: cmderr {err}"
        return self.dm.dmi_read(D.DATA0) | self.dm.dmi_read(D.DATA0 + 1) << 32

    def write(self, regno: int, value: int) -> int:
        self.dm.dmi_write(D.DATA0, value & 0xFFFFFFFF)
        self.dm.dmi_write(D.DATA0 + 1, value >> 32)
        return self.command(3 << 20 | 1 << 17 | 1 << 16 | regno)

    def sb_read64(self, address: int) -> int:
        self.dm.dmi_write(D.SBCS, 3 << 17 | 1 << 20)
        self.dm.dmi_write(D.SBADDRESS1, address >> 32)
        self.dm.dmi_write(D.SBADDRESS0, address & 0xFFFFFFFF)
        return self.dm.dmi_read(D.SBDATA0) | self.dm.dmi_read(D.SBDATA1) << 32

    def sb_write32(self, address: int, value: int) -> None:
        self.dm.dmi_write(D.SBCS, 2 << 17)
        self.dm.dmi_write(D.SBADDRESS1, 0)
        self.dm.dmi_write(D.SBADDRESS0, address)
        self.dm.dmi_write(D.SBDATA0, value)


def boot(tmp_path: Path, board: str = "virt", smp: int = 2, rounds: int = 30) -> tuple[Machine, Driver]:
    elf = build_elf(tmp_path, SPIN, "spin")
    machine = Machine(MachineConfig(board=board, smp=smp, bios="none", kernel=str(elf)), MemoryConsole())
    for _ in range(rounds):
        machine.step_round()
    return machine, Driver(DebugModule(machine))


def test_halt_read_write_resume(tmp_path: Path, engine: str) -> None:
    machine, dbg = boot(tmp_path)
    assert dbg.status() & 3 << 10 == 3 << 10  # allrunning
    dbg.halt(1)
    assert dbg.status() & 3 << 8 == 3 << 8  # allhalted
    assert dbg.dm.dmi_read(D.HALTSUM0) == 0b10
    assert dbg.read(S1) == 107
    count = dbg.read(S2)
    assert count > 0 and dbg.sb_read64(COUNTERS + 8) == count
    assert dbg.read(CSR_DCSR) >> 6 & 7 == 3  # cause: haltreq
    before = machine.harts[1].icount
    for _ in range(5):
        machine.step_round()
    assert machine.harts[1].icount == before, "a halted hart ran"
    assert dbg.write(S2, 1_000_000) == 0
    dbg.resume(1)
    assert dbg.status() & 3 << 16 == 3 << 16  # allresumeack
    for _ in range(5):
        machine.step_round()
    assert dbg.sb_read64(COUNTERS + 8) > 1_000_000
    # Registers of a running hart are out of reach.
    assert dbg.command(3 << 20 | 1 << 17 | S1) == D.CMDERR_HALT_RESUME


def test_unmatched_debug_view(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, "unmatched", 5)
    for hart in range(5):
        dbg.halt(hart)
        assert dbg.read(S1) == hart * 100 + 7
    assert dbg.dm.dmi_read(D.HALTSUM0) == 0b11111
    dbg.select(0)
    misa = dbg.read(CSR_MISA)
    assert not misa & 1 << 18 and not misa & 1 << 3  # the S7: no S-mode, no D
    assert dbg.command(3 << 20 | 1 << 17 | FPR + 3) == D.CMDERR_EXCEPTION
    dbg.select(2)
    assert dbg.read(CSR_MISA) & 1 << 18
    assert dbg.read(FPR + 3) == struct.unpack("<Q", struct.pack("<d", 207.0))[0]
    dbg.select(5)
    assert dbg.status() & 3 << 14 == 3 << 14  # nonexistent
    for hart in range(5):
        dbg.resume(hart)
    assert not any(h.halted for h in machine.harts)


def test_program_buffer(tmp_path: Path, engine: str) -> None:
    machine, dbg = boot(tmp_path, smp=1)
    dbg.halt(0)
    mcause = dbg.read(CSR_MCAUSE)
    dbg.dm.dmi_write(D.PROGBUF0, 0x00148493)  # addi s1, s1, 1
    dbg.dm.dmi_write(D.PROGBUF0 + 1, D.EBREAK)
    assert dbg.command(2 << 20 | 1 << 18) == 0  # postexec only
    assert dbg.read(S1) == 8
    # A load from a vacant address faults: cmderr 3, and no trap CSR changes.
    assert dbg.write(GPR + 5, 0x90000000) == 0
    dbg.dm.dmi_write(D.PROGBUF0, 0x0002B283)  # ld t0, 0(t0)
    assert dbg.command(2 << 20 | 1 << 18) == D.CMDERR_EXCEPTION
    assert dbg.read(CSR_MCAUSE) == mcause
    dbg.resume(0)
    for _ in range(3):
        machine.step_round()
    assert not machine.harts[0].halted


def test_trigger_and_step_enter_debug_mode(tmp_path: Path, engine: str) -> None:
    machine, dbg = boot(tmp_path, smp=1)
    loop = next(a for a in range(0x80000000, 0x80000100, 2) if machine.bus.read(a, 4) == 0x00190913)
    dbg.halt(0)
    assert dbg.write(CSR_TSELECT, 0) == 0
    # mcontrol, dmode, action 1 (enter debug mode), M, execute.
    assert dbg.write(CSR_TDATA1, 2 << 60 | 1 << 59 | 1 << 12 | 1 << 6 | 1 << 2) == 0
    assert dbg.write(CSR_TDATA2, loop) == 0
    dbg.resume(0)
    for _ in range(3):
        machine.step_round()
    assert machine.harts[0].halted
    assert dbg.read(CSR_DPC) == loop
    assert dbg.read(CSR_DCSR) >> 6 & 7 == 2  # cause: trigger
    count = dbg.read(S2)
    # Disarm, then single-step one instruction (addi s2, s2, 1).
    assert dbg.write(CSR_TDATA1, 2 << 60) == 0
    assert dbg.write(CSR_DCSR, dbg.read(CSR_DCSR) | 1 << 2) == 0
    dbg.resume(0)
    machine.step_round()
    assert machine.harts[0].halted
    assert dbg.read(CSR_DCSR) >> 6 & 7 == 4  # cause: step
    assert dbg.read(CSR_DPC) == loop + 4
    assert dbg.read(S2) == count + 1


# --- the TAP over remote_bitbang --------------------------------------------------------------


class Bitbang:
    """A minimal remote_bitbang JTAG client (what OpenOCD's adapter driver sends)."""

    def __init__(self, address: str) -> None:
        host, port = address.removeprefix("tcp:").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)

    def clock(self, tms: int, tdi: int = 0) -> None:
        self.sock.sendall(bytes([48 + (tms << 1 | tdi), 48 + (4 | tms << 1 | tdi)]))

    def reset(self) -> None:
        for _ in range(5):
            self.clock(1)
        self.clock(0)


def test_tap_idcode_dtmcs_dmi_over_remote_bitbang(tmp_path: Path) -> None:
    machine, _ = boot(tmp_path, "unmatched", 5, rounds=1)
    port = machine.attach_jtag("tcp:0")
    assert port.address.startswith("tcp:127.0.0.1:")
    try:
        client = Bitbang(port.address)
        for _ in range(10):
            machine.step_round()
        client.reset()
        assert _scan(machine, client, 32, 0, ir=False) == 0x20000913  # IDCODE after reset
        _scan(machine, client, 5, 0x10, ir=True)
        dtmcs = _scan(machine, client, 32, 0, ir=False)
        assert dtmcs & 0xF == 1 and dtmcs >> 4 & 0x3F == 7
        _scan(machine, client, 5, 0x11, ir=True)
        _scan(machine, client, 41, D.DMCONTROL << 34 | 1 << 2 | 2, ir=False)  # write dmactive
        _scan(machine, client, 41, D.DMSTATUS << 34 | 1, ir=False)  # read dmstatus
        result = _scan(machine, client, 41, 0, ir=False)
        assert result >> 34 == D.DMSTATUS and result >> 2 & 0xF == 2  # version 0.13

        # Bytes outside the protocol: that client is dropped, the guest runs on, others connect.
        client.sock.sendall(b"\xff garbage")
        before = machine.harts[1].icount
        started = time.monotonic()
        for _ in range(20):
            machine.step_round()
        assert machine.harts[1].icount > before
        assert time.monotonic() - started < 10
        assert port.server.client is None
        again = Bitbang(port.address)
        again.sock.settimeout(0.0)
        again.reset()
        assert _scan(machine, again, 32, 0, ir=False) == 0x20000913
        again.sock.close()
        machine.step_round()
        assert port.server.client is None
    finally:
        port.close()


def _scan(machine: Machine, client: Bitbang, bits: int, value: int, ir: bool) -> int:
    """One scan, with the machine serving the port between the client's steps."""
    client.sock.settimeout(10)
    out = 0
    for tms in (1, 1, 0, 0) if ir else (1, 0, 0):
        client.clock(tms)
    for i in range(bits):
        last = int(i == bits - 1)
        client.sock.sendall(
            bytes([48 + (last << 1 | (value >> i & 1)), ord("R"), 48 + (4 | last << 1 | (value >> i & 1))])
        )
    client.clock(1)
    client.clock(0)
    got = b""
    deadline = time.monotonic() + 10
    while len(got) < bits and time.monotonic() < deadline:
        machine.step_round()
        client.sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError, BlockingIOError):
            got += client.sock.recv(bits - len(got))
    assert len(got) == bits
    for i, c in enumerate(got):
        out |= (c == ord("1")) << i
    return out


def test_bad_jtag_option_is_one_line_with_status_2(tmp_path: Path) -> None:
    elf = build_elf(tmp_path, SPIN, "spin")
    done = subprocess.run(
        [sys.executable, "-m", "harness.emulator", "-bios", "none", "-kernel", str(elf), "-jtag", "tcp:0.0.0.0:1"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "hartbeat-emu: invalid -jtag 'tcp:0.0.0.0:1' (expected tcp:PORT or unix:PATH)"
    ]


def test_unix_socket_port(tmp_path: Path) -> None:
    machine, _ = boot(tmp_path, rounds=1)
    path = tmp_path / "jtag.sock"
    port = machine.attach_jtag(f"unix:{path}")
    try:
        assert port.address == f"unix:{path}" and path.exists()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(path))
        client.sendall(b"R")
        client.settimeout(0.05)
        got = b""
        for _ in range(50):
            machine.step_round()
            with contextlib.suppress(TimeoutError, BlockingIOError):
                got += client.recv(1)
            if got:
                break
        assert got == b"0"  # TDO is low outside the shift states
        client.close()
    finally:
        port.close()
    assert not path.exists()


def test_a_store_breakpoint_reports_the_address_that_matched_in_mtval(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, smp=1)
    loop = next(a for a in range(0x80000000, 0x80000100, 2) if machine.bus.read(a, 4) == 0x00190913)
    dbg.halt(0)
    # mcontrol, action 0 (breakpoint exception), M, store; mtvec back to the loop: every store traps.
    assert dbg.write(CSR_TDATA1, 2 << 60 | 1 << 6 | 1 << 1) == 0
    assert dbg.write(CSR_TDATA2, COUNTERS) == 0
    assert dbg.write(0x305, loop) == 0  # mtvec
    dbg.resume(0)
    for _ in range(3):
        machine.step_round()
    dbg.halt(0)
    assert dbg.read(CSR_MCAUSE) == 3  # breakpoint
    assert dbg.read(0x343) == COUNTERS  # mtval: the store's address, not the pc
    assert dbg.read(0x341) == loop + 4  # mepc: the store, which did not happen


def _store_traps(machine: Machine, dbg: Driver, loop: int, triggers: list[tuple[int, int]]) -> bool:
    """Arm ``triggers`` (tdata1, tdata2 from tselect 0) on halted hart 0 with mtvec at the loop;
    True if the guest's store to counters[0] raised a breakpoint."""
    dbg.halt(0)
    for index in range(4):
        assert dbg.write(CSR_TSELECT, index) == 0
        assert dbg.write(CSR_TDATA1, 2 << 60) == 0  # disarmed first: no chain to a stale trigger
    for index, (tdata1, tdata2) in enumerate(triggers):
        assert dbg.write(CSR_TSELECT, index) == 0
        assert dbg.write(CSR_TDATA2, tdata2) == 0
        assert dbg.write(CSR_TDATA1, tdata1) == 0
    assert dbg.write(CSR_MCAUSE, 0) == 0
    assert dbg.write(0x305, loop) == 0  # mtvec
    dbg.resume(0)
    for _ in range(3):
        machine.step_round()
    dbg.halt(0)
    fired = dbg.read(CSR_MCAUSE) == 3
    dbg.resume(0)
    return fired


def test_chained_range_and_napot_store_triggers(tmp_path: Path) -> None:
    machine, dbg = boot(tmp_path, smp=1)
    loop = next(a for a in range(0x80000000, 0x80000100, 2) if machine.bus.read(a, 4) == 0x00190913)
    store_m = 2 << 60 | 1 << 6 | 1 << 1
    ge, lt, napot, chain = 2 << 7, 3 << 7, 1 << 7, 1 << 11
    # A range from a chained "ge" and "lt" pair: [COUNTERS, COUNTERS + 8) holds the store.
    assert _store_traps(machine, dbg, loop, [(store_m | ge | chain, COUNTERS), (store_m | lt, COUNTERS + 8)])
    # [COUNTERS + 8, COUNTERS + 16) does not, though its "lt" half alone would match.
    assert not _store_traps(machine, dbg, loop, [(store_m | ge | chain, COUNTERS + 8), (store_m | lt, COUNTERS + 16)])
    # The same "lt" trigger unchained fires by itself.
    assert _store_traps(machine, dbg, loop, [(store_m | ge, COUNTERS + 8), (store_m | lt, COUNTERS + 16)])
    # NAPOT: tdata2's two trailing ones make an 8-byte range at its base.
    assert _store_traps(machine, dbg, loop, [(store_m | napot, COUNTERS | 0b011)])
    assert not _store_traps(machine, dbg, loop, [(store_m | napot, (COUNTERS + 8) | 0b011)])
    # 0x7ff: a 4 KiB range from the page's base covers counters[0].
    assert _store_traps(machine, dbg, loop, [(store_m | napot, COUNTERS | 0x7FF)])
    # Read back: match and chain stick (the last trigger cannot chain: nothing follows it).
    dbg.halt(0)
    assert dbg.write(CSR_TSELECT, 3) == 0
    assert dbg.write(CSR_TDATA1, store_m | napot | chain) == 0
    assert dbg.read(CSR_TDATA1) == store_m | napot
    assert dbg.write(CSR_TSELECT, 0) == 0
    assert dbg.write(CSR_TDATA1, store_m | ge | chain) == 0
    assert dbg.read(CSR_TDATA1) == store_m | ge | chain
