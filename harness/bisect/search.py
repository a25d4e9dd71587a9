"""Which builds to try next: the pure part of bisection, no boots and no files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from harness.errors import HartbeatError


class State(StrEnum):
    """What is known about a build."""

    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    """A build's state and what it cost."""

    index: int
    name: str
    state: State
    passes: int
    reason: str = ""
    key: str | None = None
    cached_from: str | None = None


class Inconclusive(HartbeatError):
    """The search cannot go on (an endpoint does not behave as given); the answer says why."""


def split_points(testable: Sequence[int], k: int) -> list[int]:
    """``k`` builds that cut ``testable`` (the untried builds between last good and first bad) in k + 1 parts.

    Positions are taken in the list of testable builds, not in the raw index range, so skipped
    builds never attract a point. One target tests the middle: worst case ceil(log2(n + 1)) tries.
    """
    count = len(testable)
    if count <= k:
        return list(testable)
    return [testable[(part * (count + 1)) // (k + 1) - 1] for part in range(1, k + 1)]


@dataclass
class Search:
    """The states of a series of ``size`` builds; index 0 is good and the last one bad by assumption."""

    size: int
    states: dict[int, State] = field(default_factory=dict)

    def decide(self, index: int, state: State) -> None:
        """Record a decision."""
        self.states[index] = state

    @property
    def first_bad(self) -> int:
        """The lowest build known bad (the bad endpoint if none).

        A bad run is proof (it showed the hang's signature), so it bounds the culprit even when
        a build above it passed: with a flaky hang such a pass was luck.
        """
        return min((i for i, s in self.states.items() if s is State.BAD), default=self.size - 1)

    @property
    def last_good(self) -> int:
        """The highest build known good below the first bad one (0: the good endpoint)."""
        high = self.first_bad
        return max((i for i, s in self.states.items() if s is State.GOOD and i < high), default=0)

    def testable(self) -> list[int]:
        """Undecided builds strictly between the last good and the first bad."""
        return [i for i in range(self.last_good + 1, self.first_bad) if i not in self.states]

    def next_candidates(self, k: int) -> list[int]:
        """Up to ``k`` builds to try at once; empty when the search is over."""
        return split_points(self.testable(), k)

    @property
    def found(self) -> bool:
        """True when the first bad build directly follows the last good one."""
        return self.first_bad == self.last_good + 1

    def remaining(self) -> list[int]:
        """The builds that may still be the culprit: the skipped ones in the gap, and the first bad."""
        return list(range(self.last_good + 1, self.first_bad + 1))
