"""The hang rate of the bad builds, the stopping rule for a passing build, and the confidence.

A build at or after the culprit hangs on each boot with an unknown probability p. Before the
search, the bad endpoint runs ``endpoint_runs`` times:

* if every one of those runs showed the hang, the hang is taken as deterministic (p = 1) and one
  passing run decides a build is good. This is the only way to keep a deterministic hang at one
  boot per candidate; the price is that a hang with rate p is mistaken for a deterministic one
  with probability p**runs (3 % for p = 0.5 and five runs);
* otherwise p is uncertain, and a uniform prior on p updated with every run of a build known to be
  bad gives the posterior Beta(bad + 1, passed + 1). A build is good once the *expected* chance
  that a bad build passes that many times, E[(1 - p)**n], is under ``miss``. Averaging over the
  posterior instead of plugging in bad/runs keeps a lucky estimate from five runs (say 4 hangs of
  5 for a 30 % hang) from stopping far too early.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# No build is run more often than this to prove it good; a hang rarer than that is not bisectable.
MAX_RUNS = 200


@dataclass(frozen=True)
class HangRate:
    """What the runs of known-bad builds say about how often the hang shows."""

    bad: int
    passed: int
    deterministic: bool

    @classmethod
    def from_endpoint(cls, bad: int, passed: int, endpoint_runs: int) -> HangRate:
        """The rate after the bad endpoint's runs; deterministic only if all of at least ``endpoint_runs`` hung."""
        return cls(bad, passed, deterministic=passed == 0 and bad >= endpoint_runs)

    def add(self, bad: int, passed: int) -> HangRate:
        """The rate with the runs of one more bad build (``passed`` runs before the hang showed)."""
        return HangRate(self.bad + bad, self.passed + passed, self.deterministic and passed == 0)

    @property
    def estimate(self) -> float:
        """The fraction of runs of bad builds that hung (for the report)."""
        total = self.bad + self.passed
        return self.bad / total if total else 1.0

    def miss_chance(self, passes: int) -> float:
        """The chance that a bad build passes ``passes`` times in a row: E[(1 - p)**passes]."""
        if passes <= 0:
            return 1.0
        if self.deterministic:
            return 0.0
        # E[(1-p)^n] under Beta(a, b) is B(a, b + n) / B(a, b) = prod_{i<n} (b + i) / (a + b + i).
        a, b = self.bad + 1, self.passed + 1
        return math.exp(sum(math.log((b + i) / (a + b + i)) for i in range(passes)))

    def runs_needed(self, miss: float) -> int:
        """The fewest passing runs after which a build is good: miss chance under ``miss``."""
        for runs in range(1, MAX_RUNS + 1):
            if self.miss_chance(runs) < miss:
                return runs
        return MAX_RUNS


def confidence(rate: HangRate, good_passes: Iterable[tuple[int, int]]) -> float:
    """The product of (1 - miss chance) over every good decision, as ``(index, passes)`` pairs.

    In an ordered series every build after the culprit hangs, so the passes of a good build also
    speak for every build before it: a good decision is backed by the passes at it and above.
    """
    result = 1.0
    backing = 0
    for _index, passes in sorted(good_passes, reverse=True):
        backing += passes
        result *= 1.0 - rate.miss_chance(backing)
    return result
