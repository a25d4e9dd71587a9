"""The host side of the guest console: stdio (raw tty) or a pseudo-terminal."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty

from .timefeed import TimeFeed


class Console:
    """Buffers guest output and polls host input without blocking.

    Output is collected and written once per scheduler round, which keeps the number of
    write syscalls small while still appearing immediate to a human or to pexpect.
    """

    def __init__(self, in_fd: int | None, out_fd: int, keep_open_fd: int | None = None) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        # A pty's slave end, held open so reads from the master don't fail with no client.
        self.keep_open_fd = keep_open_fd
        self._pending = bytearray()
        self._saved_tty: list | None = None  # type: ignore[type-arg]
        # The guest-time side channel (``-guest-clock``) and the byte counts it reports.
        self.time_feed: TimeFeed | None = None
        self.out_total = 0
        self.in_total = 0

    def write(self, data: bytes) -> None:
        """Queue guest output."""
        self._pending += data

    def flush(self) -> None:
        """Write queued output; drops it if the reader went away or its buffer is full."""
        if self._pending:
            self.out_total += len(self._pending)
            if self.time_feed is not None:
                # Before the bytes: whoever reads them then finds the time they were printed at.
                self.time_feed.mark(self.out_total, self.in_total)
        while self._pending:
            try:
                n = os.write(self.out_fd, self._pending)
            except (BlockingIOError, BrokenPipeError, OSError):
                self._pending.clear()
                return
            del self._pending[:n]

    def poll(self, timeout: float = 0.0) -> bytes:
        """Return input bytes available within ``timeout`` seconds (b"" if none)."""
        if self.in_fd is None:
            if timeout:
                select.select([], [], [], timeout)
            return b""
        ready, _, _ = select.select([self.in_fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.in_fd, 1024)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:
            self.in_fd = None  # end of input: stop polling a closed pipe
        self.in_total += len(data)
        return data

    def tick(self) -> None:
        """Report the guest time on the side channel now and then (called every round)."""
        if self.time_feed is not None:
            self.time_feed.tick(self.out_total, self.in_total)

    def make_raw(self, fd: int) -> None:
        """Put tty ``fd`` in raw mode (no echo, no signals from Ctrl-C) until ``close``."""
        if not os.isatty(fd):
            return
        self._saved_tty = termios.tcgetattr(fd)
        self._raw_fd = fd
        tty.setraw(fd, termios.TCSANOW)
        # Like QEMU -nographic: raw input, but keep output processing so a stray "\n" from
        # the emulator itself still returns the carriage on the shared terminal.
        attrs = termios.tcgetattr(fd)
        attrs[1] |= termios.OPOST
        termios.tcsetattr(fd, termios.TCSANOW, attrs)

    def close(self) -> None:
        """Flush output and restore the terminal."""
        self.flush()
        if self.time_feed is not None:
            self.time_feed.close()
        if self._saved_tty is not None:
            termios.tcsetattr(self._raw_fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None


def stdio_console() -> Console:
    """Console on the process's stdin/stdout, raw if stdin is a terminal (like -nographic)."""
    try:
        in_fd: int | None = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        in_fd = None
    console = Console(in_fd, 1)
    if in_fd is not None:
        console.make_raw(in_fd)
    return console


def pty_console() -> Console:
    """Console on a new pseudo-terminal, announced on stderr the way QEMU does."""
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    os.set_blocking(master, False)
    name = os.ttyname(slave)
    console = Console(master, master, keep_open_fd=slave)
    sys.stderr.write(f"char device redirected to {name} (label serial0)\n")
    sys.stderr.flush()
    return console


class MemoryConsole(Console):
    """In-process console: guest output accumulates in ``output``; ``feed`` queues input."""

    def __init__(self) -> None:
        super().__init__(None, -1)
        self.output = bytearray()
        self._input = bytearray()

    def feed(self, data: bytes) -> None:
        """Queue bytes for the guest to read."""
        self._input += data

    def flush(self) -> None:
        """Move queued guest output to ``output``."""
        self.output += self._pending
        self._pending.clear()

    def poll(self, timeout: float = 0.0) -> bytes:
        """Hand over all queued input at once; with none queued, wait ``timeout`` seconds."""
        if not self._input:
            if timeout:
                time.sleep(timeout)
            return b""
        data = bytes(self._input)
        self._input.clear()
        return data
