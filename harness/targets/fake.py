"""A target that lives in Python: the runner, verdicts, sessions and bisect logic tested in milliseconds.

A test builds a :class:`FakeTarget` and hands it to ``Runner(..., target=...)``. What the
"board" prints at power-on is ``boot``; each line the harness types is echoed, as a terminal
does, and answered by ``reply(line)``. Output can also be pushed at any time with
:meth:`FakeTransport.feed`, and the console ended with :meth:`FakeTransport.end`.

It is also a complete target kind (:data:`KIND`, a ``[fake]`` section with ``boot`` and a
``[fake.replies]`` table of typed line -> reply), left out of the registry so no user profile
picks it by accident; a test registers it with one line, as a new kind would be.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from harness.errors import TargetUnavailable, TransportClosed
from harness.model.board import Board
from harness.targets.base import TargetKind

Reply = Callable[[str], str | None]


class FakeTransport:
    """A console byte stream fed from Python; what the harness writes is kept in :attr:`sent`."""

    def __init__(self, reply: Reply | None = None, *, echo: bool = True, newline: str = "\r") -> None:
        self.sent = bytearray()
        self._reply = reply
        self._echo = echo
        self._newline = newline.encode()
        self._typed = bytearray()
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._ended: str | None = None

    def feed(self, text: str | bytes) -> None:
        """Make the target print ``text`` now."""
        data = text.encode() if isinstance(text, str) else text
        with self._cond:
            self._queue.append(data)
            self._cond.notify_all()

    def end(self, reason: str = "fake console ended") -> None:
        """End the stream: once what was fed is read, reads raise :class:`TransportClosed`."""
        with self._cond:
            self._ended = reason
            self._cond.notify_all()

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` fed bytes; ``b""`` after ``timeout`` seconds without any."""
        with self._cond:
            if not self._queue and self._ended is None:
                self._cond.wait(timeout)
            if self._queue:
                data = self._queue.popleft()
                if len(data) > size:
                    self._queue.appendleft(data[size:])
                    data = data[:size]
                return data
            if self._ended is not None:
                raise TransportClosed(self._ended)
            return b""

    def write(self, data: bytes) -> None:
        """Record ``data``; echo it and answer every completed line with ``reply``."""
        self.sent += data
        if self._echo:
            self.feed(data.replace(self._newline, b"\r\n"))
        self._typed += data
        while self._newline in self._typed:
            line, _sep, rest = bytes(self._typed).partition(self._newline)
            self._typed = bytearray(rest)
            answer = self._reply(line.decode(errors="replace")) if self._reply else None
            if answer:
                self.feed(answer)

    def close(self) -> None:
        """End the stream (the harness is done with it)."""
        self.end("fake console closed")


class FakeTarget:
    """A :class:`~harness.targets.base.Target` whose console is a :class:`FakeTransport`.

    ``boot`` is printed at power-on; ``available=False`` makes :meth:`check_available` raise
    :class:`TargetUnavailable` (a skip, or the fallback board); :attr:`powered` tells the state.
    """

    kind = "fake"

    def __init__(
        self,
        name: str = "fake",
        *,
        boot: str = "",
        reply: Reply | None = None,
        available: bool = True,
        newline: str = "\r",
    ) -> None:
        self.name = name
        self.boot = boot
        self.available = available
        self.transport = FakeTransport(reply, newline=newline)
        self.powered = False
        self.power_cycles = 0

    def check_available(self) -> None:
        """Raise :class:`TargetUnavailable` unless made available."""
        if not self.available:
            raise TargetUnavailable(f"fake target {self.name} is unavailable")

    def console(self) -> FakeTransport:
        """The console, valid from before power-on."""
        return self.transport

    def power_on(self) -> None:
        """Print the boot text."""
        self.powered = True
        self.power_cycles += 1
        if self.boot:
            self.transport.feed(self.boot)

    def power_off(self) -> None:
        """Switch off; safe to call twice."""
        self.powered = False

    def describe(self) -> dict[str, Any]:
        """For the report."""
        return {"kind": self.kind, "name": self.name}


def _replies(board: Board) -> dict[str, str]:
    section = board.section("fake")
    table = section.table("replies")
    replies = {line: table.string(line, required=True) or "" for line in table.data}
    section.string("boot")
    section.reject_unknown()
    return replies


def validate(board: Board) -> set[str]:
    """Check ``[fake]``: ``boot`` (a string) and ``replies`` (a table of strings)."""
    _replies(board)
    return {"fake"}


def from_board(board: Board, extra: Mapping[str, str]) -> FakeTarget:
    """A fake target printing ``fake.boot`` and answering each line found in ``fake.replies``."""
    replies = _replies(board)
    boot = board.expand(board.section("fake").string("boot", ""), "fake.boot", extra)
    return FakeTarget(board.name, boot=boot, reply=replies.get, newline=board.newline)


KIND = TargetKind(name="fake", validate=validate, build=from_board, copies=None)
