"""A small GDB remote serial protocol client: enough to stop a target, read its harts and resume it.

QEMU's gdbstub (``-gdb unix:PATH,server=on,wait=off``) presents each hart as one thread. The
client reads the target description (``qXfer:features:read``) to learn which register numbers
hold the pc, the GPRs, the CSRs and the privilege mode, so nothing here is specific to one QEMU
version: a register the stub does not describe is simply absent from :attr:`GdbRemote.registers`.

Every failure (no socket, no answer within the timeout, an ``E`` reply, a malformed packet) is a
:class:`GdbError` with a one-line reason, so a caller can say ``autopsy unavailable: <reason>``.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from harness.errors import TargetError
from harness.targets.sockets import connect_when_ready

# The byte that asks a running target to stop (what gdb sends on Ctrl-C).
INTERRUPT = b"\x03"
# qXfer chunk size asked for; the stub may send less and says when it is done ('l' vs 'm').
XFER_CHUNK = 0x3F00
ESCAPE = 0x7D


class GdbError(TargetError):
    """The stub did not answer, answered an error, or the connection broke."""


@dataclass(frozen=True)
class Register:
    """One register the target description names: its number, width in bits and feature."""

    name: str
    number: int
    bits: int
    feature: str


def checksum(data: bytes) -> int:
    """The packet checksum: the sum of the payload bytes modulo 256."""
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    """``$payload#cs``, with the bytes the protocol reserves escaped."""
    escaped = bytearray()
    for byte in payload:
        if byte in b"$#}*":
            escaped += bytes((ESCAPE, byte ^ 0x20))
        else:
            escaped.append(byte)
    return b"$" + bytes(escaped) + b"#%02x" % checksum(bytes(escaped))


def unescape(body: bytes) -> bytes:
    """Undo ``}``-escaping and run-length encoding (``X*n`` repeats X ``n - 29`` more times)."""
    out = bytearray()
    i = 0
    while i < len(body):
        byte = body[i]
        if byte == ESCAPE and i + 1 < len(body):
            out.append(body[i + 1] ^ 0x20)
            i += 2
        elif byte == ord("*") and out and i + 1 < len(body):
            out += bytes((out[-1],)) * (body[i + 1] - 29)
            i += 2
        else:
            out.append(byte)
            i += 1
    return bytes(out)


def little_endian(hex_text: bytes) -> int:
    """A register value as the stub sends it: target-order (little-endian) hex bytes."""
    try:
        return int.from_bytes(bytes.fromhex(hex_text.decode()), "little")
    except ValueError:
        raise GdbError(f"malformed register value {hex_text[:40]!r}") from None


def _xml(name: str, document: bytes) -> ET.Element:
    """Parse one description document; QEMU writes ``xi:include`` without declaring ``xi``."""
    try:
        return ET.fromstring(re.sub(rb"<(/?)xi:", rb"<\1", document))
    except ET.ParseError as exc:
        raise GdbError(f"malformed target description {name}: {exc}") from None


def parse_description(documents: dict[str, bytes], root: str = "target.xml") -> dict[str, Register]:
    """Registers by name from a target description and the documents it includes.

    Register numbers continue from the previous register unless ``regnum`` says otherwise, as in
    gdb's own reader.
    """
    registers: dict[str, Register] = {}
    next_number = 0

    def walk(name: str, feature: str) -> None:
        nonlocal next_number
        if name not in documents:
            raise GdbError(f"target description {name} was not read")
        for element in _xml(name, documents[name]).iter():
            tag = element.tag
            if tag == "feature":
                feature = element.get("name", feature)
            elif tag == "include":
                walk(element.get("href", ""), feature)
            elif tag == "reg":
                number = int(element.get("regnum", next_number))
                reg = Register(element.get("name", ""), number, int(element.get("bitsize", "0")), feature)
                registers.setdefault(reg.name, reg)
                next_number = number + 1

    walk(root, "")
    return registers


def includes(name: str, document: bytes) -> list[str]:
    """The ``xi:include href`` names of one description document."""
    return [e.get("href", "") for e in _xml(name, document).iter() if e.tag == "include"]


class GdbRemote:
    """One connection to a gdbstub over a UNIX socket (``address`` a path) or TCP (``(host, port)``).

    Lifecycle: :meth:`connect` (QEMU stops the guest when a debugger connects), then reads,
    :meth:`resume` / :meth:`interrupt` to let it run and stop it again, and :meth:`close`.
    """

    def __init__(self, address: Path | tuple[str, int], timeout: float = 2.0) -> None:
        self.address = address
        self.timeout = timeout
        self.registers: dict[str, Register] = {}
        self.features: frozenset[str] = frozenset()
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._acks = True
        self._selected: str | None = None

    # --- connection -------------------------------------------------------------------------

    def connect(self, wait: float | None = None) -> None:
        """Connect (retrying until ``wait`` seconds for the socket to appear), then negotiate.

        Negotiation: ``qSupported``, no-ack mode when offered (halves the round trips), the
        target description.
        """
        try:
            sock = connect_when_ready(self.address, self.timeout, self.timeout if wait is None else wait)
        except OSError as exc:
            raise GdbError(f"gdbstub {self._where()} did not answer: {exc}") from None
        self._sock = sock
        supported = self.request(b"qSupported:multiprocess+;xmlRegisters=riscv;qRelocInsn-")
        self.features = frozenset(f.decode(errors="replace") for f in supported.split(b";"))
        if "QStartNoAckMode+" in self.features and self.request(b"QStartNoAckMode") == b"OK":
            self._acks = False
        if "qXfer:features:read+" in self.features:
            self.registers = parse_description(self._descriptions())

    def close(self) -> None:
        """Drop the connection without detaching (the target stays as it is)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""
        self._selected = None

    def detach(self) -> None:
        """Detach (QEMU lets the guest run on) and close."""
        try:
            self.request(b"D")
        finally:
            self.close()

    def _where(self) -> str:
        if isinstance(self.address, Path):
            return str(self.address)
        host, port = self.address
        return f"{host}:{port}"

    # --- packets ----------------------------------------------------------------------------

    def _recv(self) -> None:
        if self._sock is None:
            raise GdbError("gdbstub is not connected")
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise GdbError(f"gdbstub {self._where()} gave no answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise GdbError(f"gdbstub {self._where()}: {exc}") from None
        if not chunk:
            raise GdbError(f"gdbstub {self._where()} closed the connection")
        self._buffer += chunk

    def _send(self, data: bytes) -> None:
        if self._sock is None:
            raise GdbError("gdbstub is not connected")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise GdbError(f"gdbstub {self._where()}: {exc}") from None

    def receive(self) -> bytes:
        """The next packet's payload (acks and stray bytes before ``$`` are skipped)."""
        while True:
            start = self._buffer.find(b"$")
            if start >= 0:
                end = self._buffer.find(b"#", start)
                if end >= 0 and len(self._buffer) >= end + 3:
                    body = self._buffer[start + 1 : end]
                    sent = self._buffer[end + 1 : end + 3]
                    self._buffer = self._buffer[end + 3 :]
                    if self._acks:
                        ok = sent.lower() == b"%02x" % checksum(body)
                        self._send(b"+" if ok else b"-")
                        if not ok:
                            continue
                    return unescape(body)
            else:
                self._buffer = b""
            self._recv()

    def request(self, payload: bytes) -> bytes:
        """Send one packet and return the reply's payload; ``E nn`` replies raise.

        A stop notification that arrives unasked (QEMU sends one when it stops the guest for a
        new connection) is skipped: no other reply starts with ``T`` or ``S``.
        """
        self._send(frame(payload))
        reply = self.receive()
        while payload != b"?" and reply[:1] in b"TS":
            reply = self.receive()
        if len(reply) == 3 and reply.startswith(b"E") and reply[1:].isalnum():
            raise GdbError(f"gdbstub refused {payload[:24].decode(errors='replace')!r}: {reply.decode()}")
        return reply

    # --- description ------------------------------------------------------------------------

    def _xfer(self, annex: str) -> bytes:
        data = b""
        while True:
            reply = self.request(b"qXfer:features:read:%s:%x,%x" % (annex.encode(), len(data), XFER_CHUNK))
            if not reply or reply[:1] not in b"ml":
                raise GdbError(f"gdbstub could not read {annex}: {reply[:40]!r}")
            data += reply[1:]
            if reply[:1] == b"l":
                return data

    def _descriptions(self) -> dict[str, bytes]:
        documents: dict[str, bytes] = {}
        pending = ["target.xml"]
        while pending:
            name = pending.pop()
            if name in documents:
                continue
            documents[name] = self._xfer(name)
            pending += includes(name, documents[name])
        return documents

    # --- execution --------------------------------------------------------------------------

    def resume(self) -> None:
        """Let every hart run (``c``); the stop reply comes after :meth:`interrupt`."""
        self._send(frame(b"c"))
        self._selected = None

    def interrupt(self) -> bytes:
        """Stop a running target and return its stop reply (``T02thread:...;``)."""
        self._send(INTERRUPT)
        while True:
            reply = self.receive()
            if reply[:1] in b"TS":
                return reply
            # 'O' console output or a stale 'OK' is not the stop reply.

    def threads(self) -> list[str]:
        """The stub's thread ids in order (QEMU: one per hart, hart 0 first)."""
        found: list[str] = []
        reply = self.request(b"qfThreadInfo")
        while reply.startswith(b"m"):
            found += [t.decode() for t in reply[1:].split(b",") if t]
            reply = self.request(b"qsThreadInfo")
        if reply != b"l":
            raise GdbError(f"gdbstub thread list: unexpected reply {reply[:40]!r}")
        return found

    def select(self, thread: str) -> None:
        """Make ``thread`` the one register and memory reads apply to (``Hg``)."""
        if thread == self._selected:
            return
        reply = self.request(b"Hg" + thread.encode())
        if reply != b"OK":
            raise GdbError(f"gdbstub cannot select thread {thread}: {reply[:40]!r}")
        self._selected = thread

    # --- state ------------------------------------------------------------------------------

    def read_register(self, name: str) -> int:
        """One register of the selected thread by its description name (``pc``, ``mcause``...)."""
        reg = self.registers.get(name)
        if reg is None:
            raise GdbError(f"gdbstub describes no register {name!r}")
        reply = self.request(b"p%x" % reg.number)
        if not reply:
            raise GdbError(f"gdbstub cannot read register {name}")
        return little_endian(reply)

    def read_registers(self, names: list[str]) -> dict[str, int | None]:
        """Several registers; a name the stub does not describe or cannot read maps to ``None``."""
        values: dict[str, int | None] = {}
        for name in names:
            if name not in self.registers:
                values[name] = None
                continue
            try:
                values[name] = self.read_register(name)
            except GdbError:
                values[name] = None
        return values

    def read_memory(self, address: int, length: int) -> bytes:
        """``length`` bytes at a virtual address of the selected thread (its current satp)."""
        data = bytearray()
        while len(data) < length:
            size = min(length - len(data), 0x800)
            reply = self.request(b"m%x,%x" % (address + len(data), size))
            try:
                chunk = bytes.fromhex(reply.decode())
            except ValueError:
                raise GdbError(f"malformed memory reply {reply[:40]!r}") from None
            if not chunk:
                raise GdbError(f"gdbstub read no memory at {address + len(data):#x}")
            data += chunk
        return bytes(data)

    def monitor(self, command: str) -> str:
        """A QEMU monitor command through the stub (``qRcmd``); its console output as text."""
        self._send(frame(b"qRcmd," + command.encode().hex().encode()))
        output = b""
        while True:
            reply = self.receive()
            if reply.startswith(b"O") and reply != b"OK":
                try:
                    output += bytes.fromhex(reply[1:].decode())
                except ValueError:
                    raise GdbError(f"malformed monitor output {reply[:40]!r}") from None
                continue
            if reply == b"OK":
                return output.decode(errors="replace")
            if reply[:1] == b"E":
                raise GdbError(f"gdbstub refused monitor command {command!r}: {reply.decode()}")
            # A plain hex reply (some stubs answer qRcmd with the text itself).
            try:
                return (output + bytes.fromhex(reply.decode())).decode(errors="replace")
            except ValueError:
                raise GdbError(f"malformed monitor reply {reply[:40]!r}") from None
