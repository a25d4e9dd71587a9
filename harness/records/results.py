"""What a run produced: the milestones it reached and its verdict, as ``report.json`` stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.autopsy.model import Autopsy
from harness.engine.verdict import EXIT_CODES, Kind, Verdict
from harness.model.board import Board, FallbackExit
from harness.model.plan import Plan


@dataclass(frozen=True)
class MilestoneResult:
    """A milestone reached: when, how long after the previous one, and what it captured."""

    name: str
    t: float
    delta: float
    line: str
    captures: dict[str, str] = field(default_factory=dict)
    # Host seconds since power-on when it was read, where ``t`` is the target's guest time.
    host_t: float | None = None


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced; ``report.json`` is this, serialised."""

    plan: Plan
    board: Board
    verdict: Verdict
    milestones: tuple[MilestoneResult, ...]
    out_dir: Path
    target: dict[str, Any]
    started: str
    duration: float
    fallback: str | None = None
    # (the board asked for, why it could not be used) when the fallback board ran instead.
    fallback_for: tuple[str, str] | None = None
    # The asked-for board's `fallback_exit`: what a run that fell back exits with.
    fallback_exit: FallbackExit = FallbackExit.VERDICT

    @property
    def ran_on(self) -> str:
        """``PASS on qemu-sifive-u, fallback for unmatched: /dev/ttyUSB1 missing`` (or ``PASS``)."""
        kind = self.verdict.kind.value.upper()
        if self.fallback_for is None:
            return kind
        asked, why = self.fallback_for
        return f"{kind} on {self.board.name}, fallback for {asked}: {why}"

    # What the harness did on its own during the run (each prompt retry), in order.
    events: tuple[str, ...] = ()
    # The clock the plan's limits and the times were measured on: "guest" (the target reports
    # its own time, e.g. the emulator) or "host".
    clock: str = "host"
    # Where every hart was at a wedge, stall or panic (taken after the verdict, before power-off).
    autopsy: Autopsy | None = None

    @property
    def skipped_for_fallback(self) -> bool:
        """A pass on the fallback board that the board asked for counts as a skip (``fallback_exit = "skip"``)."""
        return self.fallback_for is not None and self.fallback_exit is FallbackExit.SKIP and self.verdict.passed

    @property
    def exit_code(self) -> int:
        """The verdict's exit code; 125 for a pass that :attr:`skipped_for_fallback`."""
        return EXIT_CODES[Kind.SKIP] if self.skipped_for_fallback else self.verdict.exit_code
