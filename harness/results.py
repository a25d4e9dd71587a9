"""What a run produced: the milestones it reached and its verdict, as ``report.json`` stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.autopsy.model import Autopsy
from harness.board import Board
from harness.plan import Plan
from harness.verdict import Verdict


@dataclass(frozen=True)
class MilestoneResult:
    """A milestone reached: when, how long after the previous one, and what it captured."""

    name: str
    t: float
    delta: float
    line: str
    captures: dict[str, str] = field(default_factory=dict)


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
    # Where every hart was at a wedge, stall or panic (taken after the verdict, before power-off).
    autopsy: Autopsy | None = None
