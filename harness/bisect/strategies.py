"""How a bisect chooses its boots and when it stops: one class per strategy, one registry.

The :class:`~harness.bisect.bisector.Bisector` boots builds, keeps the journal and records
decisions; a strategy decides which builds to boot next, how often, and when the answer stands.
It sees the bisect only through :class:`Bisection`, the Bisector's services. A new strategy is
one class here and one line in :data:`STRATEGIES`.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import ClassVar, Protocol, TypeVar

from harness.bisect.answer import Estimate
from harness.bisect.cache import VerdictCache
from harness.bisect.criterion import Criterion, Outcome
from harness.bisect.phase import Phase
from harness.bisect.posterior import (
    Evidence,
    choose,
    contradicted,
    entropy,
    hang_rate,
    information,
    posterior,
    rate_given,
)
from harness.bisect.posterior import verify_runs as posterior_verify_runs
from harness.bisect.progress import Progress
from harness.bisect.search import Decision, Inconclusive, Search, State
from harness.bisect.series import Build, Series, Unbuildable
from harness.bisect.settings import Settings
from harness.bisect.stats import MAX_RUNS, HangRate, confidence
from harness.bisect.trials import RunRecord
from harness.model.board import Board

T = TypeVar("T")

# A bayes bisect whose answer fails verification searches on; after this many failures it gives up.
MAX_VERIFY = 3
# A bayes bisect never boots more than this many times the series' length (a hang too rare to find).
MAX_BOOTS_PER_BUILD = 20
# Bayes: this many other failures (more than the build's passes and hangs) make a build a skip.
OTHER_LIMIT = 2


def outcome_word(outcome: Outcome) -> str:
    """``hung``, ``passed`` or ``failed otherwise``: an outcome in a progress line."""
    return {Outcome.BAD: "hung", Outcome.GOOD: "passed", Outcome.OTHER: "failed otherwise"}[outcome]


class Bisection(Protocol):
    """What a strategy may use of the bisect it steers (the Bisector provides it)."""

    settings: Settings
    series: Series
    progress: Progress
    criterion: Criterion
    # Decisions by artefact key: a build with another's bytes is decided as that one was.
    cache: VerdictCache
    # What the runs so far say about the hang; a strategy may fold its own decisions in (under ``lock``).
    rate: HangRate
    history: dict[int, tuple[RunRecord, ...]]
    decided: dict[int, Decision]
    lock: threading.Lock
    verified: bool | None
    verify_note: str

    @property
    def boards(self) -> int:
        """How many boots can run at once."""
        ...

    def build(self, index: int) -> Build | Unbuildable:
        """The build at ``index``, prepared once."""
        ...

    def prepared(self, index: int) -> Build | Unbuildable | None:
        """The build at ``index`` if it was prepared already, else ``None`` (nothing is built)."""
        ...

    def boot(self, board: Board, build: Build, phase: Phase) -> RunRecord:
        """One new run of a build, logged."""
        ...

    def record(self, decision: Decision, seconds: float, runs: int, quiet: bool = False) -> Decision:
        """Log a decision and keep it."""
        ...

    def parallel(self, jobs: Sequence[Callable[[Board], T]]) -> list[T]:
        """Each job on a free board, all at once; the results in the jobs' order."""
        ...

    def next_round(self) -> int:
        """Begin and log the next round; its number."""
        ...

    def verify(self, culprit: int, last_good: int, runs: int) -> tuple[bool, str]:
        """Boot the culprit until it hangs and the last good build until it passed ``runs`` times."""
        ...


class Strategy(ABC):
    """One way to search: which builds to boot, how often, and when the answer stands.

    A strategy object lives for one bisect and may keep what it learned between its calls.
    """

    name: ClassVar[str]
    # True: the good endpoint's one boot may share the bad endpoint's first batch.
    good_endpoint_early: ClassVar[bool] = False

    @abstractmethod
    def good_endpoint(self, bisect: Bisection) -> Decision:
        """Decide the good endpoint (after the bad one's runs set the hang rate)."""

    @abstractmethod
    def search(self, bisect: Bisection, search: Search) -> None:
        """Boot and decide until ``search.found`` or nothing is left to try; :class:`Inconclusive` to give up."""

    @abstractmethod
    def estimate(self, bisect: Bisection, search: Search, found: bool) -> Estimate:
        """The hang rate and the confidence the answer reports."""


class RepeatSearch(Strategy):
    """Split the range; decide each candidate by repeating it until it hangs or passed often enough."""

    name = "repeat"

    def good_endpoint(self, bisect: Bisection) -> Decision:
        """The good endpoint is decided like any candidate: it must pass as often as one."""
        return bisect.parallel([self._decider(bisect, 0, Phase.ENDPOINT)])[0]

    def search(self, bisect: Bisection, search: Search) -> None:
        """Rounds of split points, one board each, then a verification of the answer."""
        for index, decision in bisect.decided.items():
            search.decide(index, decision.state)
        names = bisect.series.names
        while points := search.next_candidates(bisect.boards):
            round_number = bisect.next_round()
            testable = len(search.testable())
            per_build = bisect.rate.runs_needed(bisect.settings.miss)
            bisect.progress.update(
                round=round_number,
                left=f"{testable} builds left between {names[search.last_good]} and {names[search.first_bad]}",
                boots_left=math.ceil(math.log2(testable + 1)) * per_build,
            )
            for decision in bisect.parallel([self._decider(bisect, i, Phase.CANDIDATE) for i in points]):
                search.decide(decision.index, decision.state)
        if search.found:
            # Boot the culprit and the last good build again; an answer that does not hold is inconclusive.
            runs = bisect.rate.runs_needed(1.0 - bisect.settings.confidence)
            held, note = bisect.verify(search.first_bad, search.last_good, runs)
            bisect.verified, bisect.verify_note = held, note
            if not held:
                raise Inconclusive(f"the answer did not hold: {note}")

    def estimate(self, bisect: Bisection, search: Search, found: bool) -> Estimate:
        """The rate counted over the decisions; the confidence from every good decision's passes."""
        # A good decision with no passes of its own (a cache hit, an endpoint assumed good) adds
        # no doubt: its evidence is counted where it was gathered, or the user vouched for it.
        goods = [
            (i, d.passes)
            for i, d in bisect.decided.items()
            if d.state is State.GOOD and d.passes > 0 and i < search.first_bad
        ]
        rate = bisect.rate
        return Estimate(rate.estimate, rate.deterministic, confidence(rate, goods) if found else 0.0)

    def _decider(self, bisect: Bisection, index: int, phase: Phase) -> Callable[[Board], Decision]:
        return lambda board: self._decide(bisect, index, board, phase)

    def _decide(self, bisect: Bisection, index: int, board: Board, phase: Phase) -> Decision:
        """Run a build until it shows the hang, fails otherwise, or passed often enough."""
        if index in bisect.decided:
            # Only a decision from the log of an earlier session gets here; its runs still count.
            earlier = bisect.decided[index]
            if earlier.state is State.BAD and phase is Phase.CANDIDATE and earlier.cached_from is None:
                with bisect.lock:
                    bisect.rate = bisect.rate.add(1, earlier.passes)
            return earlier
        build = bisect.build(index)
        if isinstance(build, Unbuildable):
            return bisect.record(Decision(index, build.name, State.SKIP, 0, build.reason), 0.0, 0)
        cached = bisect.cache.get(build.key)
        if cached is not None:
            state, source = cached
            decision = Decision(index, build.name, State(state), 0, f"same artefacts as {source}", build.key, source)
            return bisect.record(decision, 0.0, 0)
        passes, seconds, runs = 0, 0.0, 0
        boots = self._boots(bisect, board, build, phase)
        while passes < bisect.rate.runs_needed(bisect.settings.miss):
            record = next(boots)
            runs += 1
            seconds += record.seconds
            outcome = bisect.criterion.classify(record.verdict)
            if outcome is Outcome.BAD:
                with bisect.lock:
                    bisect.rate = bisect.rate.add(1, passes)
                return bisect.record(Decision(index, build.name, State.BAD, passes, "", build.key), seconds, runs)
            if outcome is Outcome.OTHER:
                reason = f"another failure: {record.verdict.signature}"
                return bisect.record(Decision(index, build.name, State.SKIP, passes, reason, build.key), seconds, runs)
            passes += 1
        return bisect.record(Decision(index, build.name, State.GOOD, passes, "", build.key), seconds, runs)

    @staticmethod
    def _boots(bisect: Bisection, board: Board, build: Build, phase: Phase) -> Iterator[RunRecord]:
        """The runs of a build: those already in the log first, then new ones for as long as asked."""
        yield from bisect.history.get(build.index, ())
        while True:
            yield bisect.boot(board, build, phase)


class BayesSearch(Strategy):
    """Boot where the expected information is largest until one build holds the confidence; verify it."""

    name = "bayes"
    good_endpoint_early = True

    def __init__(self) -> None:
        # The posterior mass of the answer once it held its verification.
        self._mass = 0.0

    def good_endpoint(self, bisect: Bisection) -> Decision:
        """One boot of the good endpoint catches a wrong range; the posterior needs no more."""
        if 0 in bisect.decided:
            return bisect.decided[0]
        build = bisect.build(0)
        if isinstance(build, Unbuildable):
            return bisect.record(Decision(0, build.name, State.SKIP, 0, build.reason), 0.0, 0)
        records = list(bisect.history.get(0, ())) or bisect.parallel(
            [lambda board: bisect.boot(board, build, Phase.ENDPOINT)]
        )
        outcome = bisect.criterion.classify(records[-1].verdict)
        if outcome is Outcome.GOOD:
            return bisect.record(Decision(0, build.name, State.GOOD, 1, "good endpoint", build.key), 0.0, 1)
        reason = "" if outcome is Outcome.BAD else f"another failure: {records[-1].verdict.signature}"
        state = State.BAD if outcome is Outcome.BAD else State.SKIP
        return bisect.record(Decision(0, build.name, state, 0, reason, build.key), 0.0, 1)

    def search(self, bisect: Bisection, search: Search) -> None:
        """Rounds of the most informative boots until the likeliest answer holds the confidence."""
        names = bisect.series.names
        evidence = self._evidence(bisect)
        limit = MAX_BOOTS_PER_BUILD * len(names)
        failed_verifications = 0
        gain = 1.0
        while True:
            mass = posterior(evidence)
            group = self._group(mass, evidence)
            top = group[-1]
            held = sum(mass[i] for i in group)
            round_number = bisect.next_round()
            self._show(bisect, round_number, mass, top, evidence, gain)
            if held >= bisect.settings.confidence:
                if len(group) > 1:
                    self._untestable(search, group)
                    culprits = ", ".join(names[i] for i in group)
                    raise Inconclusive(f"the culprit is one of {culprits} (posterior {held:.3f}); the others are skips")
                last_good = max((i for i in range(top) if i not in evidence.skipped), default=0)
                runs = self._verify_runs(bisect, top, evidence)
                ok, note = bisect.verify(top, last_good, runs)
                evidence = self._evidence(bisect)
                if ok:
                    bisect.verified, bisect.verify_note = True, note
                    self._settle(bisect, search, top, last_good, evidence)
                    self._mass = posterior(evidence)[top]
                    return
                failed_verifications += 1
                bisect.progress.decision(f"verification failed, searching on: {note}")
                if failed_verifications >= MAX_VERIFY:
                    bisect.verified, bisect.verify_note = False, note
                    raise Inconclusive(f"the answer did not hold {MAX_VERIFY} times; last: {note}")
                continue
            odd = contradicted(evidence)
            if odd is not None:
                name = names[odd]
                raise Inconclusive(
                    f"{name} showed the hang but then passed {evidence.passes[odd]} times, far more than the bad "
                    "endpoint's hang rate allows: the signature also strikes builds without the bug (a loaded "
                    "host, a flaky target?); check the runs of "
                    f"{name}, or bisect with another --bad-if or more --endpoint-runs"
                )
            picks = choose(evidence, mass, bisect.boards)
            if not picks:
                self._untestable(search, group)
                raise Inconclusive(f"no boot can tell the builds left apart (posterior {held:.3f})")
            if sum(evidence.hangs) + sum(evidence.passes) >= limit:
                raise Inconclusive(f"no answer after {limit} boots; the hang is too rare to bisect")
            gain = information(mass, rate_given(evidence), picks) / len(picks)
            seen = []
            for index, record in bisect.parallel([self._once(bisect, i) for i in picks]):
                evidence = self._observe(bisect, evidence, index, record)
                word = "cannot be built" if isinstance(record, Unbuildable) else self._word(bisect, record)
                seen.append(f"{names[index]} {word}")
            after = posterior(evidence)
            best = max(range(len(after)), key=lambda i: (after[i], -i))
            bisect.progress.decision(
                f"round {round_number}: {', '.join(seen)}; most likely culprit {names[best]} ({after[best]:.3f})"
            )

    def estimate(self, bisect: Bisection, search: Search, found: bool) -> Estimate:
        """The rate the posterior expects; the confidence is the answer's posterior mass."""
        evidence = self._evidence(bisect)
        rate = hang_rate(evidence, posterior(evidence))
        return Estimate(rate, evidence.deterministic, self._mass if found else 0.0)

    @staticmethod
    def _word(bisect: Bisection, record: RunRecord) -> str:
        return outcome_word(bisect.criterion.classify(record.verdict))

    def _evidence(self, bisect: Bisection) -> Evidence:
        """Every run of the log (endpoints, candidates, verifications) as evidence about the culprit."""
        size = len(bisect.series.names)
        evidence = Evidence.empty(size, deterministic_hint=bisect.rate.deterministic)
        for index, records in bisect.history.items():
            for record in records:
                outcome = bisect.criterion.classify(record.verdict)
                # Another failure says nothing about the hang; whether it made the build a skip
                # is in the log's decisions.
                if outcome is not Outcome.OTHER:
                    evidence = evidence.add(index, outcome is Outcome.BAD)
        for index, decision in bisect.decided.items():
            if decision.state is State.SKIP:
                evidence = evidence.skip(index)
        # A build with the same bytes as its predecessor cannot be the first bad one.
        for index in range(1, size):
            this, before = bisect.prepared(index), bisect.prepared(index - 1)
            if isinstance(this, Build) and isinstance(before, Build) and this.key == before.key:
                evidence = evidence.exclude(index)
        return evidence

    @staticmethod
    def _group(mass: Sequence[float], evidence: Evidence) -> list[int]:
        """The likeliest answer: a testable build and the skipped builds right below it.

        Boots cannot tell a skipped build from the next testable one above it, so their masses
        add up; the group with the most mass (the lowest on a tie) is the answer in the making.
        """
        best: list[int] = []
        best_mass = -1.0
        run: list[int] = []
        for index in range(evidence.low, evidence.size):
            run.append(index)
            if index in evidence.skipped:
                continue
            held = sum(mass[i] for i in run)
            if held > best_mass + 1e-12:
                best, best_mass = run, held
            run = []
        return best or [evidence.size - 1]

    @staticmethod
    def _untestable(search: Search, group: Sequence[int]) -> None:
        """Record an answer that stops at skipped builds, so the remaining range is the group."""
        for index in group[:-1]:
            search.decide(index, State.SKIP)
        search.decide(group[0] - 1, State.GOOD)
        search.decide(group[-1], State.BAD)

    @staticmethod
    def _once(bisect: Bisection, index: int) -> Callable[[Board], tuple[int, RunRecord | Unbuildable]]:
        def job(board: Board) -> tuple[int, RunRecord | Unbuildable]:
            build = bisect.build(index)
            if isinstance(build, Unbuildable):
                return index, build
            return index, bisect.boot(board, build, Phase.CANDIDATE)

        return job

    @staticmethod
    def _observe(bisect: Bisection, evidence: Evidence, index: int, record: RunRecord | Unbuildable) -> Evidence:
        """Fold one boot into the evidence; a build's first hang or another failure is a decision."""
        name = bisect.series.names[index]
        if isinstance(record, Unbuildable):
            if index not in bisect.decided:
                bisect.record(Decision(index, name, State.SKIP, 0, record.reason), 0.0, 0)
            return evidence.skip(index)
        outcome = bisect.criterion.classify(record.verdict)
        if outcome is Outcome.OTHER:
            # One other failure may be the host's (a slow hart on a loaded machine); a build is a
            # skip once other failures recur and outnumber the runs that could tell.
            runs = bisect.history.get(index, ())
            others = sum(1 for r in runs if bisect.criterion.classify(r.verdict) is Outcome.OTHER)
            if others < OTHER_LIMIT or others <= len(runs) - others:
                return evidence
            if index not in bisect.decided:
                reason = f"another failure: {record.verdict.signature}"
                decision = Decision(index, name, State.SKIP, evidence.passes[index], reason, record.key)
                bisect.record(decision, 0.0, len(runs))
            return evidence.skip(index)
        if outcome is Outcome.BAD and index not in bisect.decided:
            decision = Decision(index, name, State.BAD, evidence.passes[index], "", record.key)
            bisect.record(decision, record.seconds, len(bisect.history.get(index, ())))
        return evidence.add(index, outcome is Outcome.BAD)

    @staticmethod
    def _verify_runs(bisect: Bisection, culprit: int, evidence: Evidence) -> int:
        """The verify boots the culprit's evidence so far calls for."""
        hangs, passes = evidence.suffix()
        return posterior_verify_runs(
            hangs[culprit], passes[culprit], 1.0 - bisect.settings.confidence, evidence.deterministic, MAX_RUNS
        )

    @staticmethod
    def _settle(bisect: Bisection, search: Search, culprit: int, last_good: int, evidence: Evidence) -> None:
        """The answer as decisions: every build tried below the culprit good, above it bad (by the posterior)."""
        # A build above the culprit that only passed is bad too: its passes were the hang's misses.
        sides = ((range(last_good + 1), State.GOOD), (range(culprit + 1, evidence.size), State.BAD))
        for indices, state in sides:
            for index in indices:
                tried = evidence.passes[index]
                if tried and index not in bisect.decided:
                    build = bisect.prepared(index)
                    key = build.key if isinstance(build, Build) else None
                    decision = Decision(index, bisect.series.names[index], state, tried, "posterior", key)
                    bisect.record(decision, 0.0, tried, quiet=True)
        for index, decision in bisect.decided.items():
            search.decide(index, decision.state)
        search.decide(last_good, State.GOOD)
        search.decide(culprit, State.BAD)
        for index in range(last_good + 1, culprit):
            search.decide(index, State.SKIP)

    def _show(
        self, bisect: Bisection, round_number: int, mass: Sequence[float], top: int, evidence: Evidence, gain: float
    ) -> None:
        """The progress line: the likeliest culprit, the mass left, the boots the search expects to need."""
        confidence = bisect.settings.confidence
        left = 1.0 - mass[top]
        # The bits still to learn, at the information the last round's boots expected to give.
        bits = max(entropy(mass) - entropy([confidence, 1.0 - confidence]), 0.0)
        verify = self._verify_runs(bisect, top, evidence)
        estimate = math.ceil(bits / gain) if gain > 0 else None
        bisect.progress.update(
            round=round_number,
            left=f"top {bisect.series.names[top]} {mass[top]:.2f}, mass left {left:.2f}",
            boots_left=None if estimate is None else estimate + verify + 1,
        )


# The strategies ``--strategy`` offers, the default first.
STRATEGIES: dict[str, type[Strategy]] = {BayesSearch.name: BayesSearch, RepeatSearch.name: RepeatSearch}
