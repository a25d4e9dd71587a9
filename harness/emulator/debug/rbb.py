"""OpenOCD's remote_bitbang protocol on a loopback TCP port or a unix socket.

The adapter sends one byte per action: ``'0'``-``'7'`` set TCK (4), TMS (2) and TDI (1);
``'R'`` asks for TDO (answered ``'0'`` or ``'1'``); ``'r'``-``'u'`` set TRST (2) and SRST (1);
``'B'``/``'b'`` blink a LED; ``'Z'``/``'z'`` sleep; ``'Q'`` quits. The server never blocks the
machine: sockets are non-blocking, a read takes what is there, and a client that sends a
byte outside the protocol, stops reading its answers or disconnects is dropped (the
machine runs on and the next client may connect).
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import sys
import time

from .jtag import ACTS, NEXT_BY_TMS, SHIFTS, JtagSpecError, Tap

# Bytes taken per read, and answers held for a client that does not read them.
READ_SIZE = 1 << 16
MAX_PENDING = 1 << 20
# Once a client talks, answer it without returning to the guest while it keeps sending
# (a debugger's requests come in quick succession), but for at most this long per call.
BURST_GAP_S = 0.005
# OpenOCD's bits shifted while reading TDO: "TCK low (TMS 0, TDI), read, TCK high", 8 or more.
SHIFT_RUN = re.compile(rb"(?:[01]R[45]){8,}")
# TDI of a '4'/'5' byte as a binary digit.
TDI_BITS = bytes.maketrans(b"45", b"01")
# Protocol bytes that need no action here: LED, sleep, and the SWD commands (JTAG only).
IGNORED = frozenset(b"BbZzOocdefg")


def listen(spec: str) -> tuple[socket.socket, str]:
    """A non-blocking listening socket for ``tcp:PORT`` (loopback only; 0 picks a free port)
    or ``unix:PATH``, and its address as ``tcp:127.0.0.1:PORT`` or ``unix:PATH``."""
    kind, _, where = spec.partition(":")
    if kind == "tcp":
        if not where.isdigit() or int(where) > 65535:
            raise JtagSpecError(f"invalid -jtag '{spec}' (expected tcp:PORT or unix:PATH)")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(where)))
        address = f"tcp:127.0.0.1:{sock.getsockname()[1]}"
    elif kind == "unix" and where:
        if os.path.exists(where):
            os.unlink(where)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(where)
        address = f"unix:{where}"
    else:
        raise JtagSpecError(f"invalid -jtag '{spec}' (expected tcp:PORT or unix:PATH)")
    sock.listen(1)
    sock.setblocking(False)
    return sock, address


class RemoteBitbangServer:
    """Serves one remote_bitbang client at a time on ``tap``."""

    def __init__(self, spec: str, tap: Tap) -> None:
        self.tap = tap
        self.listener, self.address = listen(spec)
        self.client: socket.socket | None = None
        self.pending = b""

    def close(self) -> None:
        """Stop listening and drop the client (a unix socket's file is removed)."""
        self._drop(None)
        self.listener.close()
        if self.address.startswith("unix:"):
            with contextlib.suppress(OSError):
                os.unlink(self.address[5:])

    def serve(self, wait: float, budget: float) -> bool:
        """Wait up to ``wait`` s for traffic, then serve it for at most ``budget`` s while
        the client keeps sending. True if anything was served."""
        served = False
        deadline = time.monotonic() + budget
        timeout = wait
        while True:
            if not self._serve_once(timeout):
                return served
            served = True
            if time.monotonic() >= deadline:
                return served
            timeout = BURST_GAP_S

    def _serve_once(self, timeout: float) -> bool:
        watched = [self.listener] if self.client is None else [self.listener, self.client]
        writers = [self.client] if self.pending and self.client is not None else []
        try:
            readable, writable, _ = select.select(watched, writers, [], timeout)
        except (OSError, ValueError):
            self._drop("select failed")
            return False
        if self.listener in readable:
            self._accept()
        client = self.client
        if client is None:
            return bool(readable)
        if client in writable:
            self._flush()
        if client not in readable:
            return self.listener in readable
        try:
            data = client.recv(READ_SIZE)
        except BlockingIOError:
            return False
        except OSError as exc:
            self._drop(f"read failed: {exc}")
            return False
        if not data:
            self._drop(None)
            return True
        self._process(data)
        return True

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        # A new debugger replaces one that went away without closing.
        self._drop(None)
        conn.setblocking(False)
        if conn.family == socket.AF_INET:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = conn
        self.tap.reset()

    def _drop(self, reason: str | None) -> None:
        if self.client is not None:
            if reason:
                sys.stderr.write(f"hartbeat-emu: JTAG client dropped: {reason}\n")
            self.client.close()
        self.client = None
        self.pending = b""

    def _process(self, data: bytes) -> None:
        # A DMI scan is about 160 bytes, most of them OpenOCD's "[01]R[45]" per bit shifted while
        # reading TDO: such runs are shifted at once (:meth:`_shift_run`), the rest byte by byte.
        out = bytearray()
        pos = 0
        for run in SHIFT_RUN.finditer(data):
            if not self._bytes(data[pos : run.start()], out):
                return
            if SHIFTS[self.tap.state]:
                self._shift_run(run.group(), out)
            elif not self._bytes(run.group(), out):
                return
            pos = run.end()
        if self._bytes(data[pos:], out) and out:
            self._send(bytes(out))

    def _shift_run(self, run: bytes, out: bytearray) -> None:
        """``run`` is k times "TCK low, read TDO, TCK high" with TMS 0 in Shift-DR/IR: TDO gives
        the register's bits 0..k-1 (then the TDI bits that entered at its top) and TDI's k bits
        enter it: one integer shift instead of 3k bytes through the edge loop."""
        tap = self.tap
        k = len(run) // 3
        length = tap.length
        tdi = int(run[2::3].translate(TDI_BITS)[::-1], 2)
        stream = tap.shift | tdi << length
        out += format(stream & ((1 << k) - 1), f"0{k}b")[::-1].encode()
        tap.shift = stream >> k
        tap.tck = True

    def _bytes(self, data: bytes, out: bytearray) -> bool:
        """Act on ``data`` byte by byte, answers appended to ``out``; False if the client was
        dropped (it quit or sent a byte outside the protocol)."""
        # The TAP's rising edge is inlined, its state kept in locals and written back only around
        # a capture, an update or a reset. The low bits of '0'-'7' are TCK (4), TMS (2), TDI (1).
        tap = self.tap
        state, shift, top, tck = tap.state, tap.shift, tap.top, tap.tck
        next_by_tms, shifts, acts = NEXT_BY_TMS, SHIFTS, ACTS
        for byte in data:
            if 52 <= byte <= 55:  # '4'..'7': TCK high
                if not tck:
                    tck = True
                    if shifts[state]:
                        shift >>= 1
                        if byte & 1:
                            shift |= top
                    state = next_by_tms[byte & 2][state]
                    if acts[state]:
                        tap.state, tap.shift = state, shift
                        tap.enter(state)
                        shift, top = tap.shift, tap.top
            elif 48 <= byte <= 51:  # '0'..'3': TCK low, nothing moves
                tck = False
            elif byte == 82:  # 'R'
                out.append(48 | (shift & 1) if shifts[state] else 48)
            elif 114 <= byte <= 117:  # 'r'..'u': TRST resets the TAP; SRST is not wired
                if (byte - 114) & 2:
                    tap.reset()
                    state, tck = tap.state, False
            elif byte == 81:  # 'Q'
                tap.state, tap.shift, tap.tck = state, shift, tck
                self._send(bytes(out))
                self._drop(None)
                return False
            elif byte not in IGNORED:
                tap.state, tap.shift, tap.tck = state, shift, tck
                self._drop(f"byte {byte:#04x} is not remote_bitbang")
                return False
        tap.state, tap.shift, tap.tck = state, shift, tck
        return True

    def _send(self, data: bytes) -> None:
        self.pending += data
        self._flush()

    def _flush(self) -> None:
        client = self.client
        if client is None or not self.pending:
            return
        try:
            sent = client.send(self.pending)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._drop(f"write failed: {exc}")
            return
        self.pending = self.pending[sent:]
        if len(self.pending) > MAX_PENDING:
            self._drop("it does not read its answers")
