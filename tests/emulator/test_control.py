"""The emulator's control socket: hart states between rounds, and memory read through a hart's
Sv39 translation without touching the accessed/dirty bits (an autopsy must not change the guest)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

from harness.emulator.bus import Bus
from harness.emulator.console import MemoryConsole
from harness.emulator.control import ControlServer, read_memory, virtual_to_physical
from harness.emulator.machine import Machine, MachineConfig

from .conftest import build_elf, needs_gcc

RAM = 0x8000_0000
V, R, W, X, A, D = 1, 2, 4, 8, 64, 128


def pte(physical: int, flags: int) -> int:
    return (physical >> 12) << 10 | flags


def mapped_hart() -> SimpleNamespace:
    """An S-mode hart with Sv39 on: 0xffffffc000001000 -> RAM+0x5000 (4 KiB page), and the 2 MiB
    superpage 0xffffffc000200000 -> RAM+0x200000."""
    bus = Bus(RAM, 4 << 20)
    root, middle, leaf = RAM + 0x1000, RAM + 0x2000, RAM + 0x3000
    vpn2 = (0xFFFFFFC000001000 >> 30) & 0x1FF
    bus.write(root + vpn2 * 8, 8, pte(middle, V))
    bus.write(middle + 0 * 8, 8, pte(leaf, V))
    bus.write(leaf + 1 * 8, 8, pte(RAM + 0x5000, V | R | W))
    bus.write(middle + 1 * 8, 8, pte(RAM + 0x200000, V | R | X))
    bus.write(RAM + 0x5008, 8, 0x1122334455667788)
    bus.write(RAM + 0x200010, 4, 0xCAFEF00D)
    return SimpleNamespace(bus=bus, priv=1, mstatus=0, satp=(8 << 60) | (root >> 12))


def test_reads_go_through_the_page_table_and_leave_it_untouched() -> None:
    hart = mapped_hart()
    before = bytes(hart.bus.ram)
    assert virtual_to_physical(hart, 0xFFFFFFC000001008) == RAM + 0x5008
    assert read_memory(hart, 0xFFFFFFC000001008, 8) == (0x1122334455667788).to_bytes(8, "little")
    assert read_memory(hart, 0xFFFFFFC000200010, 4) == (0xCAFEF00D).to_bytes(4, "little")
    assert bytes(hart.bus.ram) == before  # no A/D bits set by the walk
    # Not mapped, not canonical, or straddling into an unmapped page: nothing.
    assert read_memory(hart, 0xFFFFFFC000400000, 8) is None
    assert read_memory(hart, 0x0000400000001000, 8) is None
    assert read_memory(hart, 0xFFFFFFC000001FFC, 8) is None
    # M-mode reads physical memory.
    hart.priv = 3
    assert read_memory(hart, RAM + 0x5008, 8) == (0x1122334455667788).to_bytes(8, "little")


def test_the_socket_answers_harts_from_the_loop_and_memory_itself(tmp_path: Path) -> None:
    hart = mapped_hart()
    state = dict(hartid=0, pc=0x80001234, x=[0] * 33, wfi=True, mip=0, mie=8, mcause=0, mepc=0, mtval=0)
    fake = SimpleNamespace(**state, **vars(hart), icount=42, traps=0, has_s=False, read_mstatus=lambda: 0)
    machine = SimpleNamespace(harts=[fake])
    server = ControlServer(str(tmp_path / "control"))
    server.machine = machine  # type: ignore[assignment]
    stop = threading.Event()

    def loop() -> None:  # the machine's loop: answer between rounds
        while not stop.is_set():
            if server.pending:
                server.serve(machine)  # type: ignore[arg-type]
            stop.wait(0.01)

    threading.Thread(target=loop, daemon=True).start()
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(tmp_path / "control"))
            sock.settimeout(5)
            reader = sock.makefile("rb")

            def ask(request: object) -> dict:
                sock.sendall(json.dumps(request).encode() + b"\n")
                return json.loads(reader.readline())

            harts = ask({"op": "harts"})["harts"]
            assert harts[0]["pc"] == 0x80001234 and harts[0]["instret"] == 42 and harts[0]["wfi"] is True
            assert "scause" not in harts[0]  # no S-mode on this hart
            fake.priv = 3
            assert ask({"op": "read", "hart": 0, "address": RAM + 0x5008, "size": 8})["data"] == "8877665544332211"
            assert ask({"op": "read", "hart": 1, "address": 0, "size": 8}) == {"error": "no hart 1"}
            assert ask({"op": "nope"}) == {"error": "unknown op 'nope'"}
            sock.sendall(b"not json\n")
            assert json.loads(reader.readline()) == {"error": "request is not JSON"}
    finally:
        stop.set()
        server.close()
    assert not (tmp_path / "control").exists()


@needs_gcc
def test_power_off_ends_the_run_between_rounds_with_the_guests_power_off_status(tmp_path: Path) -> None:
    # A guest that spins forever (as U-Boot's 100 ms delay after `poweroff ...` does) is stopped
    # by the request, and run() returns 0: what the guest's own power-off returns.
    elf = build_elf(tmp_path, "_start:\n1:  j 1b\n")
    machine = Machine(
        MachineConfig(board="virt", smp=1, ram_size=16 << 20, bios="none", kernel=str(elf)), MemoryConsole()
    )
    server = ControlServer(str(tmp_path / "control"))
    server.machine = machine
    status: list[int] = []
    runner = threading.Thread(target=lambda: status.append(machine.run(max_seconds=60, control=server)), daemon=True)
    runner.start()
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(tmp_path / "control"))
            sock.settimeout(30)
            sock.sendall(b'{"op": "power-off"}\n')
            assert json.loads(sock.makefile("rb").readline()) == {"power-off": True}
        runner.join(30)
    finally:
        server.close()
    assert status == [0]
    assert machine.instructions > 0
