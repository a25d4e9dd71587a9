"""The control socket (``-control PATH``): answers autopsy requests about the harts.

One unix stream socket; each request is a line of JSON, each answer a line of JSON:

- ``{"op": "harts"}`` -> ``{"harts": [{...}, ...]}``: every hart's state between two scheduler
  rounds (registers are only consistent there: the block engine writes ``pc`` back at block
  exits), with the exact instruction count and the number of traps taken.
- ``{"op": "break"}`` -> ``{"break": true}``: a line break into the console UART's receive FIFO
  (the 16550 of ``virt``; Linux's SysRq key starts with one), after the bytes already received.
- ``{"op": "power-off"}`` -> ``{"power-off": true}``: the machine stops between two rounds and
  the emulator exits with status 0, as when the guest powers it off (the harness sends it once the
  guest has printed that it powers off; the emulator keeps no state on disk to flush).
- ``{"op": "read", "hart": N, "address": A, "size": S}`` -> ``{"data": "<hex>"}`` or
  ``{"data": null}``: memory at virtual address ``A`` through hart N's current translation,
  walked without setting accessed/dirty bits (an autopsy must not change what the guest sees).

A thread accepts and reads requests; ``harts``, ``break`` and ``power-off`` are done by the
machine's loop (which looks at :attr:`ControlServer.pending` once per round, a plain attribute
read), ``read`` by the thread itself (RAM reads change nothing). Anything else gets ``{"error": "..."}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .bus import BusError
from .csr import MSTATUS_MPRV, SATP_MODE_SV39
from .mmu import PPN_MASK, PTE_R, PTE_V, PTE_W, PTE_X, SV39_TOP
from .trap import PRV_M

if TYPE_CHECKING:
    from .cpu import Hart
    from .machine import Machine

# Longest request line accepted; anything longer is a client error, not a reason to grow forever.
MAX_REQUEST = 4096
# Largest memory read in one request (a stack frame is 16 bytes; this is generous).
MAX_READ = 4096
# How long the reader waits for the machine's loop to answer ``harts`` before giving up.
ANSWER_TIMEOUT = 5.0


def hart_state(h: Hart) -> dict[str, Any]:
    """One hart as the ``harts`` answer holds it (the field names of ``harness.autopsy.model``)."""
    state = {
        "hart": h.hartid,
        "mode": h.priv,
        "pc": h.pc,
        "ra": h.x[1],
        "sp": h.x[2],
        "fp": h.x[8],
        "wfi": h.wfi,
        "mstatus": h.read_mstatus(),
        "mip": h.mip,
        "mie": h.mie,
        "satp": h.satp,
        "mcause": h.mcause,
        "mepc": h.mepc,
        "mtval": h.mtval,
        "instret": h.icount,
        "traps": h.traps,
    }
    if h.has_s:
        state.update(scause=h.scause, sepc=h.sepc, stval=h.stval)
    return state


def virtual_to_physical(h: Hart, vaddr: int) -> int | None:
    """Where ``vaddr`` lies for hart ``h`` now, or ``None``: a read-only Sv39 walk (no A/D updates)."""
    priv = h.priv
    if priv == PRV_M and h.mstatus & MSTATUS_MPRV:
        priv = (h.mstatus >> 11) & 3
    if priv == PRV_M or h.satp >> 60 != SATP_MODE_SV39:
        return vaddr
    top = vaddr >> 38
    if top not in (0, SV39_TOP):
        return None
    table = (h.satp & PPN_MASK) << 12
    for level in (2, 1, 0):
        try:
            pte = h.bus.read(table + ((vaddr >> (12 + 9 * level)) & 0x1FF) * 8, 8)
        except BusError:
            return None
        if not pte & PTE_V or (not pte & PTE_R and pte & PTE_W):
            return None
        if pte & (PTE_R | PTE_X):
            mask = (1 << (12 + 9 * level)) - 1
            return ((((pte >> 10) & PPN_MASK) << 12) & ~mask) | (vaddr & mask)
        table = ((pte >> 10) & PPN_MASK) << 12
    return None


def read_memory(h: Hart, vaddr: int, size: int) -> bytes | None:
    """``size`` bytes of RAM at ``vaddr`` (page by page), or ``None`` if any of it is not RAM."""
    out = bytearray()
    bus = h.bus
    while size > 0:
        chunk = min(size, 0x1000 - (vaddr & 0xFFF))
        paddr = virtual_to_physical(h, vaddr)
        if paddr is None or not bus.is_ram(paddr, chunk):
            return None
        offset = paddr - bus.ram_base
        out += bus.ram[offset : offset + chunk]
        vaddr += chunk
        size -= chunk
    return bytes(out)


class ControlServer:
    """The listening socket and its reader thread; :meth:`serve` runs in the machine's loop."""

    def __init__(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.path = path
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(4)
        # Set by the thread when a ``harts`` request waits for the loop; read once per round.
        self.pending = False
        self._answer: Any = None
        # What the loop does for the waiting request: read the harts, or send the UART a break.
        self._work: Callable[[Machine], Any] | None = None
        self._answered = threading.Event()
        self._lock = threading.Lock()
        self.machine: Machine | None = None
        # Set by a ``power-off`` request: the loop ends the run after answering it.
        self.off = False
        self._thread = threading.Thread(target=self._accept, name="emulator-control", daemon=True)
        self._thread.start()

    def serve(self, machine: Machine) -> None:
        """Do the waiting request's work (called between rounds, when :attr:`pending`)."""
        self.pending = False
        work = self._work
        self._answer = None if work is None else work(machine)
        self._answered.set()

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        with contextlib.suppress(OSError):
            self._listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), name="emulator-control-client", daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            for line in reader:
                if len(line) > MAX_REQUEST:
                    answer: dict[str, Any] = {"error": "request too long"}
                else:
                    answer = self._answer_line(line)
                try:
                    conn.sendall(json.dumps(answer).encode() + b"\n")
                except OSError:
                    return

    def _answer_line(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"error": "request is not JSON"}
        if not isinstance(request, dict):
            return {"error": "request is not a JSON object"}
        machine = self.machine
        if machine is None:
            return {"error": "the machine is not running"}
        op = request.get("op")
        if op == "harts":
            return self._harts()
        if op == "read":
            return _read(machine, request)
        if op == "break":
            return self._break()
        if op == "power-off":
            return self._power_off()
        return {"error": f"unknown op {op!r}"}

    def _in_loop(self, work: Callable[[Machine], Any]) -> tuple[bool, Any]:
        """Have the machine's loop do ``work`` between two rounds; (answered, its result)."""
        # One request at a time: the loop fills a single answer slot.
        with self._lock:
            self._answered.clear()
            self._work = work
            self.pending = True
            if not self._answered.wait(ANSWER_TIMEOUT):
                self.pending = False
                return False, None
            return True, self._answer

    def _harts(self) -> dict[str, Any]:
        answered, harts = self._in_loop(lambda machine: [hart_state(h) for h in machine.harts])
        return {"harts": harts} if answered else {"error": "the machine's loop did not answer"}

    def _break(self) -> dict[str, Any]:
        answered, sent = self._in_loop(_send_break)
        if not answered:
            return {"error": "the machine's loop did not answer"}
        return {"break": True} if sent else {"error": "the console's UART cannot receive a break"}

    def _power_off(self) -> dict[str, Any]:
        def switch_off(_machine: Machine) -> bool:
            self.off = True
            return True

        answered, _ = self._in_loop(switch_off)
        return {"power-off": True} if answered else {"error": "the machine's loop did not answer"}


def _send_break(machine: Machine) -> bool:
    """A break into the console UART's receive FIFO, if the UART models one (the 16550 does)."""
    receive_break = getattr(machine.uart, "receive_break", None)
    return bool(receive_break()) if callable(receive_break) else False


def _read(machine: Machine, request: dict[str, Any]) -> dict[str, Any]:
    hart, address, size = request.get("hart"), request.get("address"), request.get("size")
    if not (isinstance(hart, int) and 0 <= hart < len(machine.harts)):
        return {"error": f"no hart {hart!r}"}
    if not (isinstance(address, int) and isinstance(size, int) and 0 < size <= MAX_READ and address >= 0):
        return {"error": "read needs an address and a size of 1 to 4096 bytes"}
    data = read_memory(machine.harts[hart], address & ((1 << 64) - 1), size)
    return {"data": None if data is None else data.hex()}
