"""The console's recording: every byte to ``console.raw``, timestamped lines to ``console.log``
and each event to ``console.timing``, flushed as it comes so a killed run keeps everything.

The recorder only writes; it neither reads the target nor matches. A write that fails (a full
disk) is reported once, to the console that owns the recorder, and nothing is written after it:
the verdict must name the disk, not blame the target.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

# The files ConsoleFiles writes into a run folder.
CONSOLE_FILES = ("console.raw", "console.log", "console.timing")


class Mark(StrEnum):
    """The kinds of line in ``console.timing`` (see :class:`ConsoleFiles`)."""

    DATA = "d"
    TYPED = "s"
    POWER_ON = "p"
    POWERED = "o"
    CLOSED = "c"
    JUDGED = "j"
    SWITCHED_OFF = "f"
    END = "e"
    GUEST_CLOCK = "k"
    GUEST_REPORT = "g"
    STARVED = "w"
    LAGGED = "l"
    HELD = "h"


@dataclass
class ConsoleFiles:
    """The run folder's console files, written as bytes arrive.

    ``console.timing`` says when each piece of ``console.raw`` came, one line per event, in
    seconds since power-on (since the console opened, before the ``p`` line):
    ``d T N`` N bytes arrived; ``s T N`` N bytes typed (written when the typing ended);
    ``p T`` power-on (times restart at 0); ``o T`` the power-on finished; ``c T REASON`` the target ended the console;
    ``j T`` the matcher decided on a silence or a deadline; ``f T`` hartbeat switched the target
    off (an ``off`` step, once its power backend returned); ``e T`` the harness stopped
    recording; ``k T SCALE`` the target reports its guest time (judged on it, host seconds /
    SCALE if it fails); ``g T LINE`` one guest-time report as the target sent it; ``w T S`` by
    then the target's processes had waited S host seconds for a CPU in all (a smaller S than
    the last: a new count, a power cycle's); ``l T S``
    a limit that ran out at S found the reader behind (a starved harness), so the decision waited
    for the reader's next read; ``h T S`` the engine looked at the console at T, its look before
    at S (the harness was held off between: a replay decides nothing there). Times are host
    seconds; ``hartbeat replay`` reads it.
    """

    raw: IO[bytes]
    log: IO[str]
    timing: IO[str] | None = None

    @classmethod
    def open(cls, folder: Path) -> ConsoleFiles:
        """Create ``console.raw``, ``console.log`` and ``console.timing`` in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        raw, log, timing = CONSOLE_FILES
        return cls(
            raw=(folder / raw).open("wb", buffering=0),
            log=(folder / log).open("w", encoding="utf-8", newline="\n"),
            timing=(folder / timing).open("w", encoding="utf-8", newline="\n"),
        )

    def event(self, kind: str, t: float, detail: object = "") -> None:
        """Append one timing line (flushed: a killed run keeps its timing like its log)."""
        if self.timing is None or self.timing.closed:
            return
        self.timing.write(f"{kind} {t:.9f} {detail}".rstrip() + "\n")
        self.timing.flush()

    def close(self) -> None:
        """Close the files; a disk that filled up must not turn closing into a traceback."""
        for handle in (self.raw, self.log, self.timing):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()


class Recorder:
    """Writes one console's files, or nothing when it has none (a replay, a test).

    ``on_failure`` is called once, with a one-line reason, when a write fails; every later
    write is skipped.
    """

    def __init__(self, files: ConsoleFiles | None, on_failure: Callable[[str], None]) -> None:
        self._files = files
        self._on_failure = on_failure
        self._error: str | None = None
        # console.log is written as text arrives; True while its last line is unfinished.
        self._mid_line = False

    @property
    def error(self) -> str | None:
        """Why the console files could not be written (a full disk), or ``None``."""
        return self._error

    def raw(self, data: bytes) -> None:
        """Append bytes as they came from the target to ``console.raw``."""
        self._write(lambda files: files.raw.write(data))

    def mark(self, mark: Mark, t: float, detail: object = "") -> None:
        """Append one ``console.timing`` line."""
        self._write(lambda files: files.event(mark.value, t, detail))

    def text(self, text: str, t: float) -> None:
        """Append decoded text to ``console.log``, each line prefixed with the time it started at."""
        if self._files:
            self._write(lambda files: self._log_text(files.log, text, t))

    def end_line(self) -> None:
        """End an unfinished last line of ``console.log`` (the console stops)."""
        files = self._files
        if self._mid_line and files and not files.log.closed:
            self._write(lambda files: _end_line(files.log))
            self._mid_line = False

    def _log_text(self, log: IO[str], text: str, t: float) -> None:
        out = []
        parts = text.split("\n")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if not self._mid_line:
                if last and not part:
                    break
                out.append(f"[{t:12.6f}] ")
                self._mid_line = True
            out.append(part)
            if not last:
                out.append("\n")
                self._mid_line = False
        log.write("".join(out))
        log.flush()

    def _write(self, action: Callable[[ConsoleFiles], object]) -> None:
        """Run a write to the console files; a full or broken disk is reported, once."""
        files = self._files
        if files is None or self._error is not None:
            return
        try:
            action(files)
        except (OSError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            where = getattr(files.raw, "name", "the run folder")
            self._error = f"cannot write the console log ({where}): {detail}"
            self._on_failure(self._error)


def _end_line(log: IO[str]) -> None:
    log.write("\n")
    log.flush()
