"""Bayesian bisection: the posterior over the first bad build, and the boots that teach the most.

The culprit ``c`` is the first bad build. A build below it never shows the hang; a build at or
after it shows the hang on each boot with one unknown probability ``p``. With a uniform prior on
``p`` the rate integrates out in closed form: if ``H(c)`` hangs and ``S(c)`` passes were seen on
builds at or after ``c``, and no hang below ``c``, the likelihood of ``c`` is the Beta function
``B(H(c) + 1, S(c) + 1)``. Every boot therefore updates every position at once, and the hang rate
is learnt from every boot of the bad endpoint and of every build that hung, never assumed.

A *deterministic* hang (every endpoint run hung, as the repeat strategy also assumes) is the
limit ``p = 1``: a pass at ``b`` rules out every ``c <= b``. Data that contradicts it (a hang
below a pass, or a build that both hung and passed) falls back to the flaky model; as data only
grows, a contradiction never goes away, so the model needs no state of its own.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

# Below this, a position's mass is treated as zero when choosing boots (it keeps the loops short).
NEGLIGIBLE = 1e-12
# Ties in expected information (to this precision) go to the lowest build, as repeat's split does.
TIE = 1e-9
# How many candidates the second and later picks of a round consider at most (about).
THINNED = 48


@dataclass(frozen=True)
class Evidence:
    """What the boots of a series said: hangs and passes per build, and what bounds the culprit.

    ``low`` is the lowest build that may be the culprit (1: build 0 is the known good endpoint);
    ``excluded`` are positions that cannot be it (a build identical to its predecessor) and
    ``skipped`` builds that cannot be tested (they may still be the culprit).
    """

    hangs: tuple[int, ...]
    passes: tuple[int, ...]
    low: int = 1
    excluded: frozenset[int] = frozenset()
    skipped: frozenset[int] = frozenset()
    deterministic_hint: bool = False

    @classmethod
    def empty(cls, size: int, **bounds: object) -> Evidence:
        """No boots yet over ``size`` builds."""
        return cls((0,) * size, (0,) * size, **bounds)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        """How many builds the series has."""
        return len(self.hangs)

    def add(self, index: int, hung: bool) -> Evidence:
        """The evidence with one more boot of ``index``."""
        hangs, passes = list(self.hangs), list(self.passes)
        (hangs if hung else passes)[index] += 1
        return replace(self, hangs=tuple(hangs), passes=tuple(passes))

    def skip(self, index: int) -> Evidence:
        """The evidence with ``index`` untestable."""
        return Evidence(
            self.hangs, self.passes, self.low, self.excluded, self.skipped | {index}, self.deterministic_hint
        )

    def exclude(self, index: int) -> Evidence:
        """The evidence with ``index`` ruled out as the culprit."""
        return Evidence(
            self.hangs, self.passes, self.low, self.excluded | {index}, self.skipped, self.deterministic_hint
        )

    @property
    def first_hang(self) -> int:
        """The lowest build that hung (the culprit is at or below it); the last build if none did."""
        return next((i for i, h in enumerate(self.hangs) if h), self.size - 1)

    def suffix(self) -> tuple[list[int], list[int]]:
        """``H(c)`` and ``S(c)`` for every position: hangs and passes at or after it."""
        size = self.size
        hangs, passes = [0] * (size + 1), [0] * (size + 1)
        for i in range(size - 1, -1, -1):
            hangs[i] = hangs[i + 1] + self.hangs[i]
            passes[i] = passes[i + 1] + self.passes[i]
        return hangs[:size], passes[:size]

    @property
    def deterministic(self) -> bool:
        """Whether the p = 1 model holds: hinted by the endpoint and not contradicted by any boot."""
        if not self.deterministic_hint:
            return False
        last_pass = max((i for i, s in enumerate(self.passes) if s), default=-1)
        return last_pass < self.first_hang


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def posterior(evidence: Evidence) -> list[float]:
    """The probability that each build is the first bad one (zero outside the possible range)."""
    size = evidence.size
    high = evidence.first_hang
    hangs, passes = evidence.suffix()
    deterministic = evidence.deterministic
    logs: list[float | None] = [None] * size
    for c in range(evidence.low, high + 1):
        if c in evidence.excluded:
            continue
        if deterministic:
            logs[c] = 0.0 if passes[c] == 0 else None
        else:
            logs[c] = _log_beta(hangs[c] + 1, passes[c] + 1)
    known = [v for v in logs if v is not None]
    if not known:
        # Every position is ruled out (bounds that contradict each other): the top of the range stays.
        result = [0.0] * size
        result[high] = 1.0
        return result
    top = max(known)
    weights = [math.exp(v - top) if v is not None else 0.0 for v in logs]
    total = sum(weights)
    return [w / total for w in weights]


def rate_given(evidence: Evidence) -> list[float]:
    """E[p | c] for every position: how often a build at or after ``c`` hangs if ``c`` is the culprit."""
    if evidence.deterministic:
        return [1.0] * evidence.size
    hangs, passes = evidence.suffix()
    return [(h + 1) / (h + s + 2) for h, s in zip(hangs, passes, strict=True)]


def hang_rate(evidence: Evidence, mass: Sequence[float]) -> float:
    """The posterior mean of the hang rate (for the report)."""
    rates = rate_given(evidence)
    return sum(m * r for m, r in zip(mass, rates, strict=True))


def _entropy2(q: float) -> float:
    if q <= 0.0 or q >= 1.0:
        return 0.0
    return -(q * math.log2(q) + (1.0 - q) * math.log2(1.0 - q))


def entropy(mass: Sequence[float]) -> float:
    """Shannon entropy of the posterior, in bits."""
    return -sum(m * math.log2(m) for m in mass if m > 0.0)


def information(mass: Sequence[float], rates: Sequence[float], builds: Sequence[int]) -> float:
    """Expected information (bits) about the culprit from one boot of each of ``builds``.

    Given the culprit, boots are independent with hang chance ``E[p | c]`` at or after it and 0
    below it, so I(C; Y) = H(Y) - sum_c P(c) H(Y | c), where H(Y | c) is a sum of binary entropies.
    """
    support = [c for c, m in enumerate(mass) if m > NEGLIGIBLE]
    conditional = sum(mass[c] * sum(_entropy2(rates[c]) for b in builds if c <= b) for c in support)
    joint = 0.0
    for outcome in itertools.product((False, True), repeat=len(builds)):
        chance = 0.0
        for c in support:
            term = mass[c]
            for build, hung in zip(builds, outcome, strict=True):
                q = rates[c] if c <= build else 0.0
                term *= q if hung else 1.0 - q
            chance += term
        if chance > 0.0:
            joint -= chance * math.log2(chance)
    return joint - conditional


def choose(evidence: Evidence, mass: Sequence[float], k: int) -> list[int]:
    """Up to ``k`` builds to boot at once (one may repeat) that together teach the most.

    Greedy: each pick is the build that adds the most expected information to those picked so
    far. The culprit's possible range bounds the candidates: a boot outside it teaches nothing.
    Empty when no boot can teach anything (only skipped builds are left to tell apart).
    """
    rates = rate_given(evidence)
    support = [c for c, m in enumerate(mass) if m > NEGLIGIBLE]
    if not support:
        return []
    candidates = [b for b in range(support[0], min(support[-1], evidence.size - 1) + 1) if b not in evidence.skipped]
    picked: list[int] = []
    gained = 0.0
    for _ in range(k):
        best, best_gain = None, gained
        # The joint outcomes of several boots cost 2**k per candidate: later picks look at an
        # evenly thinned set of candidates (the information varies slowly along the series).
        stride = 1 if not picked else max(1, len(candidates) // THINNED)
        for build in candidates[::stride]:
            gain = information(mass, rates, [*picked, build])
            if gain > best_gain + TIE:
                best, best_gain = build, gain
        if best is None:
            break
        picked.append(best)
        gained = best_gain
    return picked


def verify_runs(hangs: int, passes: int, miss: float, deterministic: bool, cap: int) -> int:
    """Boots of a build after which a hang that did not show is less likely than ``miss``.

    With ``hangs`` and ``passes`` seen on bad builds, E[(1 - p)**n] under Beta(hangs + 1,
    passes + 1) is prod_{i<n} (passes + 1 + i) / (hangs + passes + 2 + i).
    """
    if deterministic:
        return 1
    chance = 1.0
    for n in range(1, cap + 1):
        chance *= (passes + 1 + n - 1) / (hangs + passes + 2 + n - 1)
        if chance < miss:
            return n
    return cap


def contradicted(evidence: Evidence, floor: float = 1e-4) -> int | None:
    """A build that hung but passed too often for the bad endpoint's hang rate, if any.

    The model has no false alarms: one hang makes a build bad for good. A failure with the hang's
    signature that can strike any build (a slow host, a flaky board) breaks that, and the search
    would then boot that build forever. Its passes tell: a bad build passes ``s`` times in a row
    with chance E[(1 - p)**s] under the endpoint's Beta posterior; below ``floor``, stop.
    """
    last = evidence.size - 1
    hangs, passes = evidence.hangs[last], evidence.passes[last]
    for index in range(last):
        if evidence.hangs[index] and evidence.passes[index]:
            runs = evidence.passes[index]
            chance = math.exp(_log_beta(hangs + 1, passes + 1 + runs) - _log_beta(hangs + 1, passes + 1))
            if chance < floor:
                return index
    return None
