"""What a bisect shows while it runs: a live line on a terminal, one line per decision elsewhere.

On a terminal the line is redrawn in place (carriage return, erase to end of line) twice a second,
so the elapsed time moves while a wedged boot waits out its silence; decisions are not printed,
the line says where the search is. Anywhere else (a CI log, a pipe) nothing is redrawn: each
decision is one line, so the log reads as the search went.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TextIO

TICK = 0.5
ERASE = "\r\x1b[K"


@dataclass(frozen=True)
class Status:
    """Where the search is: ``left`` is the range or posterior mass still open, as text."""

    strategy: str
    round: int = 0
    left: str = "starting"
    done: int = 0
    running: int = 0
    boots_left: int | None = None


def render(status: Status, elapsed: float) -> str:
    """The progress line for a status."""
    estimate = f"~{status.boots_left} boots left" if status.boots_left is not None else "estimating"
    return (
        f"bisect [{status.strategy}] round {status.round} | {status.left} | "
        f"boots {status.done} done, {status.running} running | {elapsed:.0f} s | {estimate}"
    )


class Progress:
    """The bisect's progress display on ``stream``; ``live`` redraws one line (a terminal)."""

    def __init__(self, stream: TextIO | None, live: bool, strategy: str, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.live = live and stream is not None
        self._clock = clock
        self._started = clock()
        self._status = Status(strategy)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin redrawing (on a terminal)."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="bisect-progress", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            self._draw()

    def _draw(self) -> None:
        if self.stream is None:
            return
        with self._lock:
            line = render(self._status, self._clock() - self._started)
            self.stream.write(ERASE + line)
            self.stream.flush()

    def update(self, **fields: object) -> None:
        """Change fields of the status (``round``, ``left``, ``boots_left``)."""
        with self._lock:
            self._status = replace(self._status, **fields)  # type: ignore[arg-type]
        if self.live:
            self._draw()

    def boot_started(self) -> None:
        """A boot began."""
        with self._lock:
            self._status = replace(self._status, running=self._status.running + 1)

    def boot_finished(self) -> None:
        """A boot ended."""
        with self._lock:
            self._status = replace(self._status, running=self._status.running - 1, done=self._status.done + 1)

    def decision(self, text: str) -> None:
        """One decision: a line of its own when not on a terminal (the live line shows it otherwise)."""
        if self.stream is None or self.live:
            return
        elapsed = self._clock() - self._started
        with self._lock:
            self.stream.write(f"bisect: {elapsed:6.1f} s  {text}\n")
            self.stream.flush()

    def close(self) -> None:
        """Stop redrawing; the last line stays, followed by a newline."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._draw()
            if self.stream is not None:
                self.stream.write("\n")
                self.stream.flush()
