"""What a bisect is asked to do: the plan, the boards, the criterion and the options, fixed for its whole life."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bisect.criterion import BadIf
from harness.bisect.journal import VERSION
from harness.model.board import Board
from harness.model.plan import Plan

# A bad endpoint that has not failed after this many times its endpoint runs does not reproduce.
ENDPOINT_PATIENCE = 4


@dataclass(frozen=True)
class Settings:
    """Everything a bisect needs besides the series; ``seed`` is the master seed."""

    plan: Plan
    boards: tuple[Board, ...]
    variables: Mapping[str, str]
    out: Path
    seed: int
    bad_if: BadIf
    miss: float
    endpoint_runs: int
    check_endpoints: bool
    strategy: str = "bayes"
    confidence: float = 0.99
    # At most this many runs of the bad endpoint while none of them failed (0: ENDPOINT_PATIENCE x endpoint_runs).
    endpoint_max: int = 0
    # Git mode: boot the culprit reverted on top of the bad endpoint; it must pass.
    revert_check: bool = False

    @property
    def endpoint_limit(self) -> int:
        """The most runs the bad endpoint gets while it has not failed yet."""
        return max(self.endpoint_max or self.endpoint_runs * ENDPOINT_PATIENCE, self.endpoint_runs)

    def start_event(self, names: Sequence[str]) -> dict[str, Any]:
        """What the log's first line records, and what ``--resume`` must find unchanged."""
        return {
            "version": VERSION,
            "names": list(names),
            "plan": str(self.plan.path),
            "bad_if": self.bad_if.value,
            "miss": self.miss,
            "endpoint_runs": self.endpoint_runs,
            "endpoint_max": self.endpoint_limit,
            "check_endpoints": self.check_endpoints,
            "seed": self.seed,
            "strategy": self.strategy,
            "confidence": self.confidence,
        }
