"""Booting one build once: its seed, its run folder, and the record the journal keeps."""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bisect.criterion import Criterion, Outcome
from harness.bisect.phase import Phase
from harness.bisect.series import Build
from harness.engine.verdict import Verdict
from harness.model.board import Board
from harness.model.plan import Plan
from harness.run.runner import Runner
from harness.run.setup import prepare


def run_seed(master: int, build: str, attempt: int) -> int:
    """The seed of one run, from the master seed: the same trial reruns with the same seeds."""
    digest = hashlib.sha256(f"{master}/{build}/{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class RunRecord:
    """One boot of one build, as the journal stores it."""

    index: int
    build: str
    key: str
    attempt: int
    seed: int
    phase: Phase
    seconds: float
    out_dir: str
    verdict: Verdict

    def as_event(self, outcome: Outcome) -> dict[str, Any]:
        """The ``run`` event, with the outcome under the criterion in force."""
        return {
            "index": self.index,
            "build": self.build,
            "key": self.key,
            "attempt": self.attempt,
            "seed": self.seed,
            "phase": self.phase.value,
            "seconds": round(self.seconds, 3),
            "out_dir": self.out_dir,
            "outcome": outcome.value,
            "verdict": self.verdict.as_dict(),
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunRecord:
        """Rebuild a record from its ``run`` event."""
        return cls(
            index=event["index"],
            build=event["build"],
            key=event["key"],
            attempt=event["attempt"],
            seed=event["seed"],
            phase=Phase(event["phase"]),
            seconds=event["seconds"],
            out_dir=event["out_dir"],
            verdict=Verdict.from_dict(event["verdict"]),
        )

    def outcome(self, criterion: Criterion) -> Outcome:
        """GOOD, BAD or OTHER under ``criterion``."""
        return criterion.classify(self.verdict)


class Booter:
    """Runs a plan on a build: the board's image slots filled from the build's artefacts."""

    def __init__(
        self, plan: Plan, variables: Mapping[str, str], out: Path, master_seed: int, stop: threading.Event
    ) -> None:
        self.plan = plan
        self.stop = stop
        self.variables = dict(variables)
        self.out = out
        self.master_seed = master_seed

    def boot(self, board: Board, build: Build, attempt: int, phase: Phase) -> RunRecord:
        """One run; its folder is ``runs/<build>/<attempt>`` under the bisect folder."""
        seed = run_seed(self.master_seed, build.name, attempt)
        images = build.image_overrides()
        filled = dataclasses.replace(board, images={**board.images, **images})
        out_dir = self.out / "runs" / build.name / f"{attempt:03d}"
        setup = prepare(self.plan, filled, variables={**self.variables, "seed": str(seed)}, images=images.items())
        runner = Runner(setup, out_dir=out_dir, stop=self.stop)
        result = runner.run()
        return RunRecord(
            build.index, build.name, build.key, attempt, seed, phase, result.duration, str(out_dir), result.verdict
        )


class BoardPool:
    """The targets bisect may use at once; each run borrows one for its duration."""

    def __init__(self, boards: Sequence[Board]) -> None:
        self.size = len(boards)
        self._free: queue.Queue[Board] = queue.Queue()
        for board in boards:
            self._free.put(board)

    @contextmanager
    def borrow(self) -> Iterator[Board]:
        """A free board, returned when the block ends."""
        board = self._free.get()
        try:
            yield board
        finally:
            self._free.put(board)

    def call(self, job: Callable[[Board], Any]) -> Any:
        """Run ``job`` with a borrowed board."""
        with self.borrow() as board:
            return job(board)
