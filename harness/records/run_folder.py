"""A run folder read back: its ``report.json`` and its timestamped ``console.log``.

The HTML report, ``hartbeat report``, ``calibrate`` and ``compare`` read finished runs through
this module only, so the on-disk layout is known in one place.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from harness.autopsy.model import Autopsy
from harness.autopsy.record import autopsy_from_json
from harness.errors import HartbeatError

REPORT = "report.json"
LOG = "console.log"
# `[    12.345678] text`: the console engine's log line (seconds since power-on).
_LOG_LINE = re.compile(r"^\[\s*(-?\d+(?:\.\d+)?)\] ?(.*)$")


class RunFolderError(HartbeatError):
    """A folder given as a run is not one, or its report cannot be read."""


@dataclass(frozen=True)
class RecordedMilestone:
    """A milestone as report.json stores it."""

    name: str
    t: float
    delta: float
    line: str
    captures: dict[str, str]


@dataclass(frozen=True)
class RecordedRun:
    """A finished run: the report's fields that readers need, and the raw report."""

    folder: Path
    report: dict[str, Any]
    milestones: tuple[RecordedMilestone, ...]

    @property
    def plan_name(self) -> str:
        """The plan's name."""
        return str(self.report.get("plan", {}).get("name", "?"))

    @property
    def board_name(self) -> str:
        """The board profile that ran (the fallback, if it was used)."""
        return str(self.report.get("board", {}).get("name", "?"))

    @property
    def verdict(self) -> dict[str, Any]:
        """The verdict as report.json stores it."""
        verdict: dict[str, Any] = self.report.get("verdict", {})
        return verdict

    @property
    def kind(self) -> str:
        """The verdict kind (``pass``, ``wedge``, ...)."""
        return str(self.verdict.get("kind", "error"))

    @property
    def autopsy(self) -> Autopsy | None:
        """The autopsy the run took at its wedge, stall or panic (``None`` when it took none)."""
        return autopsy_from_json(self.report.get("autopsy"))

    def log_lines(self, line_limit: int | None = None) -> list[tuple[float, str]]:
        """The console log as (seconds since power-on, text) pairs; empty when there is none.

        ``line_limit`` shortens longer lines as :func:`read_log` says.
        """
        return read_log(self.folder / LOG, line_limit)


def read_log(path: Path, line_limit: int | None = None) -> list[tuple[float, str]]:
    """Parse a ``console.log``; a line without a timestamp continues at the previous time.

    With ``line_limit``, a line longer than that keeps its first and last ``line_limit // 2``
    characters around a note of how many were left out, and is never held whole: a board that
    dumped 24 MB without a newline costs a page this much memory, not the dump's size several times.
    """
    if not path.is_file():
        return []
    lines: list[tuple[float, str]] = []
    t = 0.0
    with path.open(encoding="utf-8", errors="replace", newline="\n") as handle:
        while True:
            raw = _read_line(handle, line_limit)
            if raw is None:
                break
            found = _LOG_LINE.match(raw)
            if found:
                t = float(found.group(1))
                lines.append((t, found.group(2)))
            else:
                lines.append((t, raw))
    return lines


# How much of a long line is read at a time while only its head and tail are kept.
_CHUNK = 1 << 16


def _read_line(handle: TextIO, limit: int | None) -> str | None:
    """The next line without its newline (``None`` at the end), shortened to ``limit`` as :func:`read_log` says."""
    if limit is None:
        line = handle.readline()
        return line.removesuffix("\n") if line else None
    half = max(limit // 2, 1)
    head = handle.readline(limit + 1)
    if not head:
        return None
    if head.endswith("\n") or len(head) <= limit:
        return head.removesuffix("\n")
    # A long line: keep its head, then read on in chunks keeping only the last `half` characters.
    tail, total = head[half:], len(head)
    head = head[:half]
    while True:
        chunk = handle.readline(_CHUNK)
        if not chunk:
            break
        ended = chunk.endswith("\n")
        chunk = chunk.removesuffix("\n")
        total += len(chunk)
        tail = (tail + chunk)[-half:]
        if ended:
            break
    left_out = total - len(head) - len(tail)
    if left_out <= 0:
        return head + tail
    return f"{head} \u2026 {left_out} characters left out (console.log has them) \u2026 {tail}"


def load_run(folder: Path) -> RecordedRun:
    """Read a run folder; raises :class:`RunFolderError` naming what is missing or malformed."""
    path = folder / REPORT
    if not path.is_file():
        raise RunFolderError(f"{folder}: not a run folder (no {REPORT})")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: cannot read the report: {exc}") from None
    if not isinstance(report, dict) or not str(report.get("schema", "")).startswith("hartbeat.report/"):
        raise RunFolderError(f"{path}: not a hartbeat report (key `schema` should be hartbeat.report/1)")
    try:
        milestones = tuple(
            RecordedMilestone(
                name=str(item["name"]),
                t=float(item["t"]),
                delta=float(item["delta"]),
                line=str(item.get("line", "")),
                captures=dict(item.get("captures", {})),
            )
            for item in report.get("milestones", [])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(
            f"{path}: key `milestones`: expected objects with `name`, `t` and `delta` (seconds); "
            f"{type(exc).__name__}: {exc}"
        ) from None
    # Replay and calibrate judge the recording on the board's scale: a damaged one is the
    # report's fault, said here, not a traceback where the plan is scaled.
    board = report.get("board", {})
    if not isinstance(board, dict):
        raise RunFolderError(f"{path}: key `board`: expected an object, got {board!r}")
    scale = board.get("time_scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0):
        raise RunFolderError(f"{path}: key `board.time_scale`: expected a positive number, got {scale!r}")
    return RecordedRun(folder, report, milestones)


def find_runs(root: Path) -> list[Path]:
    """Every run folder at or below ``root`` (bisect folders nest them), in path order."""
    if (root / REPORT).is_file():
        return [root]
    return sorted(path.parent for path in root.rglob(REPORT))


def longest_quiet(times: list[float], start: float, end: float) -> float:
    """The longest stretch in ``[start, end]`` with no console line (times ascending).

    Lines are stamped when they complete, so this is the longest wait a ``silence`` limit had
    to sit through before the milestone at ``end``.
    """
    inside = [t for t in times if start < t < end]
    edges = [start, *inside, end]
    return max((b - a for a, b in itertools.pairwise(edges)), default=0.0)
