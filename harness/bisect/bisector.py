"""The bisect procedure: check the endpoints, then split the range round by round until one build is left."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.autopsy.render import autopsy_lines
from harness.bisect.cache import VerdictCache
from harness.bisect.criterion import BadIf, Criterion, Outcome, can_define_hang
from harness.bisect.html import write_html
from harness.bisect.journal import LOG_NAME, VERSION, Journal, Restored, read_events, total_wall
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
from harness.bisect.report import LAST_LINES, Answer, Located, rows_from_events
from harness.bisect.search import Search, State
from harness.bisect.series import Build, Series, Unbuildable
from harness.bisect.stats import MAX_RUNS, HangRate, confidence
from harness.bisect.trials import BoardPool, Booter, RunRecord
from harness.board import Board
from harness.errors import ConfigError, HartbeatError
from harness.plan import Plan
from harness.recorded import RunFolderError, load_run
from harness.runner import Stopped

T = TypeVar("T")


def _outcome_word(record: RunRecord | Unbuildable, criterion: Criterion) -> str:
    if isinstance(record, Unbuildable):
        return "cannot be built"
    return _outcome_word_of(criterion.classify(record.verdict))


def _outcome_word_of(outcome: Outcome) -> str:
    return {Outcome.BAD: "hung", Outcome.GOOD: "passed", Outcome.OTHER: "failed otherwise"}[outcome]


# A bad endpoint that has not failed after this many times its endpoint runs does not reproduce.
ENDPOINT_PATIENCE = 4
# A bayes bisect whose answer fails verification searches on; after this many failures it gives up.
MAX_VERIFY = 3
# A bayes bisect never boots more than this many times the series' length (a hang too rare to find).
MAX_BOOTS_PER_BUILD = 20
STRATEGIES = ("bayes", "repeat")
# Bayes: this many other failures (more than the build's passes and hangs) make a build a skip.
OTHER_LIMIT = 2


class Inconclusive(HartbeatError):
    """The search cannot go on (an endpoint does not behave as given); the answer says why."""


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


RESUMED_KEYS = (
    "names",
    "plan",
    "bad_if",
    "miss",
    "endpoint_runs",
    "endpoint_max",
    "check_endpoints",
    "strategy",
    "confidence",
)
# What a log from before a key existed meant by it.
RESUMED_DEFAULTS = {"strategy": "repeat", "confidence": 0.99}


def open_journal(settings: Settings, names: Sequence[str], resume: bool) -> tuple[Journal, Restored | None]:
    """The log of this bisect: a fresh one, or the earlier one when resuming (checked to match)."""
    path = settings.out / LOG_NAME
    if not resume:
        if path.exists():
            raise ConfigError("--out", str(settings.out), "already holds a bisect; add --resume or pick another --out")
        journal = Journal(path)
        journal.write("start", **settings.start_event(names))
        return journal, None
    events = read_events(path)
    restored = Restored.from_events(events)
    expected = settings.start_event(names)
    # A log from before the bound was an option used the default bound.
    defaults = {**RESUMED_DEFAULTS, "endpoint_max": int(restored.start.get("endpoint_runs", 0)) * ENDPOINT_PATIENCE}
    for key in RESUMED_KEYS:
        earlier = restored.start.get(key, defaults.get(key))
        if earlier != expected[key]:
            raise ConfigError(
                path,
                key,
                f"the earlier bisect used {earlier!r}, this one {expected[key]!r}; "
                "resume with the same options or start a new --out",
            )
    journal = Journal(path, events)
    if restored.result is None:
        journal.write("session")
    return journal, restored


class Bisector:
    """One bisect over a series; :meth:`run` returns the answer and writes ``bisect.json``."""

    def __init__(
        self,
        settings: Settings,
        series: Series,
        journal: Journal,
        restored: Restored | None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.series = series
        self.journal = journal
        self.restored = restored
        self.pool = BoardPool(settings.boards)
        self.progress = progress or Progress(None, False, settings.strategy)
        # Set on a signal: no new run starts, and runs in progress end within a quarter second.
        self._stop = threading.Event()
        self.booter = Booter(settings.plan, settings.variables, settings.out, settings.seed, self._stop)
        self.cache = VerdictCache()
        self.history: dict[int, tuple[RunRecord, ...]] = {}
        self.decided: dict[int, Decision] = {}
        self._attempts: dict[int, int] = {}
        if restored is not None:
            self._restore(restored)
        self.criterion = Criterion(settings.bad_if, restored.signature if restored else None)
        self.rate = HangRate(1, 0, deterministic=True)
        self._builds: dict[int, Build | Unbuildable] = {}
        self._lock = threading.Lock()
        self._verify_note = ""
        self._verified: bool | None = None
        self._verify_runs = 1
        self._revert_note = ""
        self._revert_held: bool | None = None
        self._revert_attempts = 0
        # Rounds are numbered over every session of the bisect.
        self._round = restored.rounds if restored is not None else 0

    def _restore(self, restored: Restored) -> None:
        for index, events in restored.runs.items():
            self.history[index] = tuple(RunRecord.from_event(event) for event in events)
            self._attempts[index] = max(record.attempt for record in self.history[index])
        for index, event in restored.decisions.items():
            self.decided[index] = Decision(
                index,
                event["build"],
                State(event["state"]),
                event["passes"],
                event.get("reason", ""),
                event.get("key"),
                event.get("cached_from"),
            )
            if event.get("key"):
                self.cache.put(event["key"], event["state"], event["build"])

    # -- running --------------------------------------------------------------------------------

    def run(self) -> Answer:
        """Bisect; on a signal, stop starting runs and let the exception through (the log is complete)."""
        if self.restored is not None and self.restored.result is not None:
            # A finished bisect: nothing to boot; its answer, with the totals of every session.
            try:
                return Answer.from_dict(self.restored.result, rows_from_events(self.journal.events))
            except (TypeError, KeyError, ValueError) as exc:
                raise ConfigError(self.journal.path, "result", f"cannot be read ({exc}); damaged log") from None
        started = time.monotonic()
        executor = ThreadPoolExecutor(max_workers=self.pool.size, thread_name_prefix="bisect")
        self._executor = executor
        self.progress.start()
        try:
            search = Search(len(self.series.names))
            if self.series.eager:
                for index in range(len(self.series.names)):
                    self._build(index)
            mass = 0.0
            try:
                self._endpoints()
                if self.settings.strategy == "bayes":
                    mass = self._bayes(search)
                else:
                    self._repeat(search)
                reason = "" if search.found else "every build left between the last good and first bad is a skip"
            except Inconclusive as exc:
                reason = str(exc)
            if not reason and search.found and self.settings.revert_check:
                self._revert_check(search)
            answer = self._answer(search, reason, time.monotonic() - started, mass)
        except BaseException:
            self._stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            self.progress.close()
            raise
        executor.shutdown()
        self.progress.close()
        self.journal.write("result", **{k: v for k, v in answer.as_dict().items() if k != "rows"})
        answer.write(self.settings.out)
        write_html(answer, self.settings.out)
        return answer

    def _parallel(self, jobs: Sequence[Callable[[Board], T]]) -> list[T]:
        futures = [self._executor.submit(self.pool.call, job) for job in jobs]
        return [future.result() for future in futures]

    def _build(self, index: int) -> Build | Unbuildable:
        with self._lock:
            known = self._builds.get(index)
        if known is not None:
            return known
        prepared = self.series.prepare(index)
        with self._lock:
            self._builds[index] = prepared
        if isinstance(prepared, Build):
            self.journal.write("build", index=index, build=prepared.name, key=prepared.key)
        else:
            self.journal.write("build", index=index, build=prepared.name, key=None, reason=prepared.reason)
        return prepared

    def _boot(self, board: Board, build: Build, phase: str) -> RunRecord:
        """One new run of a build (its attempt number follows every earlier run of it), logged."""
        if self._stop.is_set():
            raise Stopped("bisect is stopping")
        with self._lock:
            attempt = self._attempts.get(build.index, 0) + 1
            self._attempts[build.index] = attempt
        self.progress.boot_started()
        try:
            record = self.booter.boot(board, build, attempt, phase)
        finally:
            self.progress.boot_finished()
        # A revert build is not in the series: its runs are logged apart, never evidence about the culprit.
        event = "revert" if phase == "revert" else "run"
        self.journal.write(event, **record.as_event(self.criterion.classify(record.verdict)))
        if event == "run":
            with self._lock:
                self.history[build.index] = (*self.history.get(build.index, ()), record)
        return record

    def _boots(self, index: int, board: Board, build: Build, phase: str) -> Iterator[RunRecord]:
        """The runs of a build: those already in the log first, then new ones for as long as asked."""
        yield from self.history.get(index, ())
        while True:
            yield self._boot(board, build, phase)

    def _record(self, decision: Decision, seconds: float, runs: int, quiet: bool = False) -> Decision:
        self.decided[decision.index] = decision
        if decision.key:
            self.cache.put(decision.key, decision.state.value, decision.name)
        self.journal.write(
            "decision",
            index=decision.index,
            build=decision.name,
            state=decision.state.value,
            passes=decision.passes,
            runs=runs,
            seconds=round(seconds, 3),
            reason=decision.reason,
            key=decision.key,
            cached_from=decision.cached_from,
        )
        note = f" ({decision.reason})" if decision.reason else ""
        if not quiet:
            self.progress.decision(f"{decision.name} {decision.state.value} after {runs} run(s){note}")
        return decision

    # -- the repeat strategy --------------------------------------------------------------------

    def _repeat(self, search: Search) -> None:
        """Split the range; decide each candidate by repeating it until it hangs or passed enough."""
        for index, decision in self.decided.items():
            search.decide(index, decision.state)
        while points := search.next_candidates(self.pool.size):
            round_number = self._next_round()
            testable = len(search.testable())
            per_build = self.rate.runs_needed(self.settings.miss)
            self.progress.update(
                round=round_number,
                left=f"{testable} builds left between {self.series.names[search.last_good]} and "
                f"{self.series.names[search.first_bad]}",
                boots_left=math.ceil(math.log2(testable + 1)) * per_build,
            )
            for decision in self._parallel([self._decider(i, "candidate") for i in points]):
                search.decide(decision.index, decision.state)
        if search.found:
            self._verify_repeat(search)

    def _next_round(self) -> int:
        """Begin the next round of the search; its number is logged, so a resumed bisect goes on from it."""
        self._round += 1
        self.journal.write("round", round=self._round)
        return self._round

    def _decider(self, index: int, phase: str) -> Callable[[Board], Decision]:
        return lambda board: self._decide(index, board, phase)

    def _decide(self, index: int, board: Board, phase: str) -> Decision:
        """Run a build until it shows the hang, fails otherwise, or passed often enough."""
        if index in self.decided:
            # Only a decision from the log of an earlier session gets here; its runs still count.
            earlier = self.decided[index]
            if earlier.state is State.BAD and phase == "candidate" and earlier.cached_from is None:
                with self._lock:
                    self.rate = self.rate.add(1, earlier.passes)
            return earlier
        build = self._build(index)
        if isinstance(build, Unbuildable):
            return self._record(Decision(index, build.name, State.SKIP, 0, build.reason), 0.0, 0)
        cached = self.cache.get(build.key)
        if cached is not None:
            state, source = cached
            return self._record(
                Decision(index, build.name, State(state), 0, f"same artefacts as {source}", build.key, source), 0.0, 0
            )
        passes, seconds, runs = 0, 0.0, 0
        boots = self._boots(index, board, build, phase)
        while passes < self.rate.runs_needed(self.settings.miss):
            record = next(boots)
            runs += 1
            seconds += record.seconds
            outcome = self.criterion.classify(record.verdict)
            if outcome is Outcome.BAD:
                with self._lock:
                    self.rate = self.rate.add(1, passes)
                return self._record(Decision(index, build.name, State.BAD, passes, "", build.key), seconds, runs)
            if outcome is Outcome.OTHER:
                reason = f"another failure: {record.verdict.signature}"
                return self._record(Decision(index, build.name, State.SKIP, passes, reason, build.key), seconds, runs)
            passes += 1
        return self._record(Decision(index, build.name, State.GOOD, passes, "", build.key), seconds, runs)

    def _verify_repeat(self, search: Search) -> None:
        """Boot the culprit and the last good build again; an answer that does not hold is inconclusive."""
        runs = self.rate.runs_needed(1.0 - self.settings.confidence)
        held, note = self._verify(search.first_bad, search.last_good, runs)
        self._verified, self._verify_note = held, note
        if not held:
            raise Inconclusive(f"the answer did not hold: {note}")

    # -- the bayes strategy ---------------------------------------------------------------------

    def _evidence(self) -> Evidence:
        """Every run of the log (endpoints, candidates, verifications) as evidence about the culprit."""
        size = len(self.series.names)
        evidence = Evidence.empty(size, deterministic_hint=self.rate.deterministic)
        for index, records in self.history.items():
            for record in records:
                outcome = self.criterion.classify(record.verdict)
                # Another failure says nothing about the hang; whether it made the build a skip
                # is in the log's decisions.
                if outcome is not Outcome.OTHER:
                    evidence = evidence.add(index, outcome is Outcome.BAD)
        for index, decision in self.decided.items():
            if decision.state is State.SKIP:
                evidence = evidence.skip(index)
        # A build with the same bytes as its predecessor cannot be the first bad one.
        for index in range(1, size):
            this, before = self._builds.get(index), self._builds.get(index - 1)
            if isinstance(this, Build) and isinstance(before, Build) and this.key == before.key:
                evidence = evidence.exclude(index)
        return evidence

    def _bayes(self, search: Search) -> float:
        """Boot where the expected information is largest until one build holds the confidence; verify it."""
        evidence = self._evidence()
        limit = MAX_BOOTS_PER_BUILD * len(self.series.names)
        failed_verifications = 0
        gain = 1.0
        while True:
            mass = posterior(evidence)
            group = self._group(mass, evidence)
            top = group[-1]
            held = sum(mass[i] for i in group)
            round_number = self._next_round()
            self._show(round_number, mass, top, evidence, gain)
            if held >= self.settings.confidence:
                if len(group) > 1:
                    self._untestable(search, group)
                    names = ", ".join(self.series.names[i] for i in group)
                    raise Inconclusive(f"the culprit is one of {names} (posterior {held:.3f}); the others are skips")
                last_good = max((i for i in range(top) if i not in evidence.skipped), default=0)
                runs = self._bayes_verify_runs(top, evidence)
                ok, note = self._verify(top, last_good, runs)
                evidence = self._evidence()
                if ok:
                    self._verified, self._verify_note = True, note
                    self._settle(search, top, last_good, evidence)
                    return posterior(evidence)[top]
                failed_verifications += 1
                self.progress.decision(f"verification failed, searching on: {note}")
                if failed_verifications >= MAX_VERIFY:
                    self._verified, self._verify_note = False, note
                    raise Inconclusive(f"the answer did not hold {MAX_VERIFY} times; last: {note}")
                continue
            odd = contradicted(evidence)
            if odd is not None:
                name = self.series.names[odd]
                raise Inconclusive(
                    f"{name} showed the hang but then passed {evidence.passes[odd]} times, far more than the bad "
                    "endpoint's hang rate allows: the signature also strikes builds without the bug (a loaded "
                    "host, a flaky target?); check the runs of "
                    f"{name}, or bisect with another --bad-if or more --endpoint-runs"
                )
            picks = choose(evidence, mass, self.pool.size)
            if not picks:
                self._untestable(search, group)
                raise Inconclusive(f"no boot can tell the builds left apart (posterior {held:.3f})")
            if sum(evidence.hangs) + sum(evidence.passes) >= limit:
                raise Inconclusive(f"no answer after {limit} boots; the hang is too rare to bisect")
            gain = information(mass, rate_given(evidence), picks) / len(picks)
            seen = []
            for index, record in self._parallel([self._once(i) for i in picks]):
                evidence = self._observe(evidence, index, record)
                seen.append(f"{self.series.names[index]} {_outcome_word(record, self.criterion)}")
            after = posterior(evidence)
            best = max(range(len(after)), key=lambda i: (after[i], -i))
            self.progress.decision(
                f"round {round_number}: {', '.join(seen)}; most likely culprit {self.series.names[best]} "
                f"({after[best]:.3f})"
            )

    def _group(self, mass: Sequence[float], evidence: Evidence) -> list[int]:
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

    def _untestable(self, search: Search, group: Sequence[int]) -> None:
        """Record an answer that stops at skipped builds, so the remaining range is the group."""
        for index in group[:-1]:
            search.decide(index, State.SKIP)
        search.decide(group[0] - 1, State.GOOD)
        search.decide(group[-1], State.BAD)

    def _once(self, index: int) -> Callable[[Board], tuple[int, RunRecord | Unbuildable]]:
        def job(board: Board) -> tuple[int, RunRecord | Unbuildable]:
            build = self._build(index)
            if isinstance(build, Unbuildable):
                return index, build
            return index, self._boot(board, build, "candidate")

        return job

    def _observe(self, evidence: Evidence, index: int, record: RunRecord | Unbuildable) -> Evidence:
        """Fold one boot into the evidence; a build's first hang or another failure is a decision."""
        name = self.series.names[index]
        if isinstance(record, Unbuildable):
            if index not in self.decided:
                self._record(Decision(index, name, State.SKIP, 0, record.reason), 0.0, 0)
            return evidence.skip(index)
        outcome = self.criterion.classify(record.verdict)
        if outcome is Outcome.OTHER:
            # One other failure may be the host's (a slow hart on a loaded machine); a build is a
            # skip once other failures recur and outnumber the runs that could tell.
            runs = self.history.get(index, ())
            others = sum(1 for r in runs if self.criterion.classify(r.verdict) is Outcome.OTHER)
            if others < OTHER_LIMIT or others <= len(runs) - others:
                return evidence
            if index not in self.decided:
                reason = f"another failure: {record.verdict.signature}"
                decision = Decision(index, name, State.SKIP, evidence.passes[index], reason, record.key)
                self._record(decision, 0.0, len(runs))
            return evidence.skip(index)
        if outcome is Outcome.BAD and index not in self.decided:
            decision = Decision(index, name, State.BAD, evidence.passes[index], "", record.key)
            self._record(decision, record.seconds, len(self.history.get(index, ())))
        return evidence.add(index, outcome is Outcome.BAD)

    def _bayes_verify_runs(self, culprit: int, evidence: Evidence) -> int:
        hangs, passes = evidence.suffix()
        return posterior_verify_runs(
            hangs[culprit], passes[culprit], 1.0 - self.settings.confidence, evidence.deterministic, MAX_RUNS
        )

    def _settle(self, search: Search, culprit: int, last_good: int, evidence: Evidence) -> None:
        """The answer as decisions: every build tried below the culprit good, above it bad (by the posterior)."""
        for index in range(last_good + 1):
            tried = evidence.passes[index]
            if tried and index not in self.decided:
                build = self._builds.get(index)
                key = build.key if isinstance(build, Build) else None
                decision = Decision(index, self.series.names[index], State.GOOD, tried, "posterior", key)
                self._record(decision, 0.0, tried, quiet=True)
        # A build above the culprit that only passed is bad too: its passes were the hang's misses.
        for index in range(culprit + 1, evidence.size):
            tried = evidence.passes[index]
            if tried and index not in self.decided:
                build = self._builds.get(index)
                key = build.key if isinstance(build, Build) else None
                decision = Decision(index, self.series.names[index], State.BAD, tried, "posterior", key)
                self._record(decision, 0.0, tried, quiet=True)
        for index, decision in self.decided.items():
            search.decide(index, decision.state)
        search.decide(last_good, State.GOOD)
        search.decide(culprit, State.BAD)
        for index in range(last_good + 1, culprit):
            search.decide(index, State.SKIP)

    def _show(self, round_number: int, mass: Sequence[float], top: int, evidence: Evidence, gain: float) -> None:
        left = 1.0 - mass[top]
        # The bits still to learn, at the information the last round's boots expected to give.
        bits = max(entropy(mass) - entropy([self.settings.confidence, 1.0 - self.settings.confidence]), 0.0)
        hangs, passes = evidence.suffix()
        verify = posterior_verify_runs(
            hangs[top], passes[top], 1.0 - self.settings.confidence, evidence.deterministic, MAX_RUNS
        )
        estimate = math.ceil(bits / gain) if gain > 0 else None
        self.progress.update(
            round=round_number,
            left=f"top {self.series.names[top]} {mass[top]:.2f}, mass left {left:.2f}",
            boots_left=None if estimate is None else estimate + verify + 1,
        )

    # -- verification ---------------------------------------------------------------------------

    def _verify(self, culprit: int, last_good: int, runs: int) -> tuple[bool, str]:
        """Boot the culprit until it hangs and the last good build until it passed ``runs`` times."""
        names = self.series.names
        self._verify_runs = runs
        self.progress.update(left=f"verifying {names[culprit]} and {names[last_good]}", boots_left=runs + 1)

        culprit, last_good = self._source(culprit), self._source(last_good)
        bad_build, good_build = self._build(culprit), self._build(last_good)
        assert isinstance(bad_build, Build)  # it hung, so it was built
        # The outcomes of each build's verify boots, in attempt order.
        bad_seen: list[Outcome] = []
        good_seen: list[Outcome] = []
        # The last good build's passes so far (in the search, an earlier verification) count
        # toward the verify step's runs: a build that passed 68 times needs no 25 more. One boot
        # is always new: a build that passed once and hangs on every later boot must be caught.
        earlier = [self.criterion.classify(r.verdict) for r in self.history.get(last_good, ())]
        good_before = min(earlier.count(Outcome.GOOD), runs - 1)

        def bad_left() -> int:
            return 0 if Outcome.BAD in bad_seen else runs - len(bad_seen)

        def good_left() -> int:
            if isinstance(good_build, Unbuildable) or any(o is not Outcome.GOOD for o in good_seen):
                return 0
            return runs - good_before - len(good_seen)

        # Batches over every board: each build gets boards in turn, never more than its boots
        # left, so a flaky hang's many verify boots overlap instead of running one after another.
        # A side stops at the batch where it is settled (a hang, a failure); the rest of that
        # batch's boots still count as evidence.
        while bad_left() or good_left():
            wants = {"bad": bad_left(), "good": good_left()}
            sides: list[str] = []
            while len(sides) < self.pool.size and any(wants.values()):
                for side in ("bad", "good"):
                    if wants[side] and len(sides) < self.pool.size:
                        sides.append(side)
                        wants[side] -= 1
            jobs = [self._verify_job(bad_build if side == "bad" else good_build) for side in sides]
            for side, outcome in zip(sides, self._parallel(jobs), strict=True):
                (bad_seen if side == "bad" else good_seen).append(outcome)
        culprit_hangs = int(Outcome.BAD in bad_seen)
        culprit_runs = bad_seen.index(Outcome.BAD) + 1 if culprit_hangs else len(bad_seen)
        failures = [i for i, o in enumerate(good_seen) if o is not Outcome.GOOD]
        good_fails = int(bool(failures))
        good_runs = failures[0] + 1 if failures else len(good_seen)
        counted = good_before + good_runs
        before = f", {good_before} of them before verifying" if good_before else ""
        parts = [
            f"{names[culprit]} hung again (boot {culprit_runs} of up to {runs})"
            if culprit_hangs
            else f"{names[culprit]} did not hang in {culprit_runs} boots",
            f"{names[last_good]} failed on boot {good_runs}"
            if good_fails
            else f"{names[last_good]} passed {counted} of {counted} boots{before}",
        ]
        held = bool(culprit_hangs) and not good_fails
        note = "; ".join(parts)
        self.progress.decision(f"verify: {note}: {'the answer held' if held else 'the answer did not hold'}")
        return held, note

    def _revert_check(self, search: Search) -> None:
        """Git mode: the culprit reverted on top of the bad endpoint must pass, as often as verification asked."""
        names = self.series.names
        culprit = self._source(search.first_bad)
        build = self.series.revert(culprit)
        if build is None:
            return
        where = f"{names[culprit]} reverted on {names[-1]}"
        if isinstance(build, Unbuildable):
            self._revert_held, self._revert_note = False, f"{where} cannot be tested: {build.reason}"
            self.progress.decision(f"revert check: {self._revert_note}")
            return
        runs = self._verify_runs
        self.progress.update(left=f"revert check: {where}", boots_left=runs)
        seen: list[Outcome] = []
        while len(seen) < runs and all(o is Outcome.GOOD for o in seen):
            batch = min(self.pool.size, runs - len(seen))
            seen += self._parallel([self._verify_job(build, "revert") for _ in range(batch)])
        failed = next((i for i, o in enumerate(seen) if o is not Outcome.GOOD), None)
        self._revert_held = failed is None
        self._revert_note = (
            f"{where} passed {len(seen)} of {len(seen)} boots"
            if failed is None
            else f"{where} {_outcome_word_of(seen[failed])} on boot {failed + 1}"
        )
        outcome = "the revert passed" if self._revert_held else "the revert did NOT pass"
        self.progress.decision(f"revert check: {self._revert_note}: {outcome}")

    def _verify_job(self, build: Build | Unbuildable, phase: str = "verify") -> Callable[[Board], Outcome]:
        assert isinstance(build, Build)  # only a built build has verify boots left
        return lambda board: self.criterion.classify(self._boot(board, build, phase).verdict)

    def _source(self, index: int) -> int:
        """The build whose boots decided ``index``: itself, or the one it shares artefacts with."""
        decision = self.decided.get(index)
        if decision is not None and decision.cached_from is not None:
            return self.series.names.index(decision.cached_from)
        return index

    # -- endpoints ------------------------------------------------------------------------------

    def _endpoints(self) -> None:
        """Run the bad endpoint (signature, hang rate), then prove the good one good."""
        last = len(self.series.names) - 1
        if not self.settings.check_endpoints and self.settings.bad_if is not BadIf.SIGNATURE:
            # Trusting the endpoints means trusting the hang to be deterministic too.
            self._assume_endpoints(HangRate(1, 0, deterministic=True))
            return
        bad = self._build(last)
        if isinstance(bad, Unbuildable):
            raise Inconclusive(f"the bad endpoint {bad.name} cannot be tested: {bad.reason}")
        wanted = self.settings.endpoint_runs if self.settings.check_endpoints else 1
        self.progress.update(left=f"booting the bad endpoint {bad.name} {wanted} times")
        records = self._endpoint_runs(bad, wanted, self._early_good_endpoint())
        if self.criterion.signature is None and self.settings.bad_if is BadIf.SIGNATURE:
            self._learn_signature(bad, records)
        outcomes = [self.criterion.classify(r.verdict) for r in records]
        hangs, passes = outcomes.count(Outcome.BAD), outcomes.count(Outcome.GOOD)
        if not hangs:
            raise Inconclusive(
                f"the bad endpoint {bad.name} did not show the hang in {len(records)} runs "
                f"(--endpoint-runs {self.settings.endpoint_runs}, --endpoint-max {self.settings.endpoint_limit})"
            )
        if last not in self.decided:
            self._record(Decision(last, bad.name, State.BAD, passes, "bad endpoint", bad.key), 0.0, len(records))
        if not self.settings.check_endpoints:
            self._assume_endpoints(HangRate(hangs, 0, deterministic=True))
            return
        self.rate = HangRate.from_endpoint(hangs, passes, self.settings.endpoint_runs)
        if self.settings.strategy == "bayes":
            good = self._good_endpoint_once()
        else:
            good = self._parallel([self._decider(0, "endpoint")])[0]
        if good.state is not State.GOOD:
            detail = good.reason or "it shows the hang"
            raise Inconclusive(f"the good endpoint {good.name} is not good: {detail}")

    def _early_good_endpoint(self) -> Build | None:
        """Bayes: the good endpoint to boot in the bad endpoint's first batch, if it still needs its boot.

        Its one boot does not depend on the bad endpoint's runs (its outcome is classified only
        after them, under the signature they teach), so it takes a board that the bad endpoint's
        batch leaves idle instead of a round of its own.
        """
        if self.settings.strategy != "bayes" or not self.settings.check_endpoints or 0 in self.decided:
            return None
        if self.history.get(0):
            return None
        build = self._build(0)
        return build if isinstance(build, Build) else None

    def _good_endpoint_once(self) -> Decision:
        """Bayes: one boot of the good endpoint catches a wrong range; the posterior needs no more."""
        if 0 in self.decided:
            return self.decided[0]
        build = self._build(0)
        if isinstance(build, Unbuildable):
            return self._record(Decision(0, build.name, State.SKIP, 0, build.reason), 0.0, 0)
        records = list(self.history.get(0, ())) or self._parallel([lambda board: self._boot(board, build, "endpoint")])
        outcome = self.criterion.classify(records[-1].verdict)
        if outcome is Outcome.GOOD:
            return self._record(Decision(0, build.name, State.GOOD, 1, "good endpoint", build.key), 0.0, 1)
        reason = "" if outcome is Outcome.BAD else f"another failure: {records[-1].verdict.signature}"
        state = State.BAD if outcome is Outcome.BAD else State.SKIP
        return self._record(Decision(0, build.name, state, 0, reason, build.key), 0.0, 1)

    def _assume_endpoints(self, rate: HangRate) -> None:
        """``--no-check-endpoints``: the endpoints are as given and the hang is deterministic."""
        self.rate = rate
        names = self.series.names
        for index, state in ((0, State.GOOD), (len(names) - 1, State.BAD)):
            if index not in self.decided:
                self._record(Decision(index, names[index], state, 0, "endpoint (not checked)"), 0.0, 0)

    def _endpoint_runs(self, bad: Build, wanted: int, good: Build | None = None) -> list[RunRecord]:
        """The bad endpoint's runs, at least ``wanted`` and until one fails, in parallel batches.

        ``good``, when given, is booted once in the first batch if that batch leaves a board idle
        (last, so the bad endpoint's runs take the boards first); its run lands in the history.
        """
        records = list(self.history.get(bad.index, ()))
        limit = self.settings.endpoint_limit if wanted == self.settings.endpoint_runs else wanted * ENDPOINT_PATIENCE
        while len(records) < wanted or (not any(can_define_hang(r.verdict) for r in records) and len(records) < limit):
            if len(records) == wanted:
                self.progress.decision(
                    f"the bad endpoint {bad.name} did not fail in {wanted} runs; booting it up to "
                    f"{limit - wanted} more times (--endpoint-max {limit}) until it does"
                )
            # Never past the bound, even on many boards at once.
            count = min(max(wanted - len(records), 1), limit - len(records))
            jobs: list[Callable[[Board], RunRecord]] = [self._endpoint_job(bad) for _ in range(count)]
            # Only on a board the batch leaves idle: a bad endpoint that does not reproduce costs no more.
            if good is not None and count % self.pool.size:
                jobs.append(self._endpoint_job(good))
            batch = self._parallel(jobs)
            records.extend(batch[:count])
            good = None
        return records

    def _endpoint_job(self, bad: Build) -> Callable[[Board], RunRecord]:
        return lambda board: self._boot(board, bad, "endpoint")

    def _learn_signature(self, bad: Build, records: Sequence[RunRecord]) -> None:
        """The hang is the most frequent failure of the bad endpoint; harness errors do not count."""
        signatures = Counter(r.verdict.signature for r in records if can_define_hang(r.verdict))
        if not signatures:
            raise Inconclusive(
                f"the bad endpoint {bad.name} did not fail in {len(records)} runs "
                f"(--endpoint-runs {self.settings.endpoint_runs}, --endpoint-max {self.settings.endpoint_limit})"
            )
        signature = signatures.most_common(1)[0][0]
        self.criterion = self.criterion.with_signature(signature)
        self.journal.write("signature", signature=signature)

    # -- the answer -----------------------------------------------------------------------------

    def _answer(self, search: Search, reason: str, wall: float, mass: float) -> Answer:
        names = self.series.names
        events = self.journal.events
        runs = [e for e in events if e.get("event") == "run"]
        revert_boots = sum(1 for e in events if e.get("event") == "revert")
        endpoint_boots = sum(1 for e in runs if e["phase"] == "endpoint")
        verify_boots = sum(1 for e in runs if e["phase"] == "verify")
        found = not reason and search.found
        first_bad = search.first_bad
        hung = self._run_of(first_bad, Outcome.BAD) if found else None
        passed = self._run_of(search.last_good, Outcome.GOOD) if found else None
        evidence = hung.verdict if hung else None
        if self.settings.strategy == "bayes":
            posterior_evidence = self._evidence()
            rate = hang_rate(posterior_evidence, posterior(posterior_evidence))
            deterministic = posterior_evidence.deterministic
            answer_confidence = mass if found else 0.0
        else:
            # A good decision with no passes of its own (a cache hit, an endpoint assumed good) adds
            # no doubt: its evidence is counted where it was gathered, or the user vouched for it.
            goods = [
                (i, d.passes)
                for i, d in self.decided.items()
                if d.state is State.GOOD and d.passes > 0 and i < first_bad
            ]
            rate, deterministic = self.rate.estimate, self.rate.deterministic
            answer_confidence = confidence(self.rate, goods) if found else 0.0
        commit = self.series.describe(first_bad) if found else None
        timed = evidence.last_lines[-LAST_LINES:] if evidence else ()
        return Answer(
            status="found" if found else "inconclusive",
            reason=reason,
            first_bad=names[first_bad] if found else None,
            last_good=names[search.last_good] if found else None,
            remaining=() if found else tuple(names[i] for i in search.remaining()),
            signature=evidence.signature if evidence else self.criterion.signature,
            last_lines=tuple(line for _t, line in timed),
            rows=tuple(rows_from_events(events)),
            total_boots=len(runs) + revert_boots,
            endpoint_boots=endpoint_boots,
            candidate_boots=len(runs) - endpoint_boots - verify_boots,
            wall_seconds=round(total_wall(events, wall), 3),
            confidence=round(answer_confidence, 6),
            hang_rate=round(rate, 4),
            deterministic=deterministic,
            seed=self.settings.seed,
            out=str(self.settings.out),
            strategy=self.settings.strategy,
            verify_boots=verify_boots,
            verified=self._verified,
            verify_note=self._verify_note,
            last_line_times=tuple(round(t, 3) for t, _line in timed),
            culprit=Located(hung.out_dir, str(Path(hung.out_dir) / "console.log")) if hung else None,
            last_good_run=Located(passed.out_dir, str(Path(passed.out_dir) / "console.log")) if passed else None,
            subject=commit.subject if commit else None,
            author=commit.author if commit else None,
            sessions=1 + sum(1 for e in events if e.get("event") == "session"),
            repo=commit.repo or None if commit else None,
            commit=commit.sha or None if commit else None,
            revert_held=self._revert_held,
            revert_note=self._revert_note,
            revert_boots=revert_boots,
            autopsy=culprit_autopsy(hung.out_dir) if hung else (),
        )

    def _run_of(self, index: int, wanted: Outcome) -> RunRecord | None:
        """The latest run of a build (or of the build it shares artefacts with) with the outcome wanted."""
        for record in reversed(self.history.get(self._source(index), ())):
            if self.criterion.classify(record.verdict) is wanted:
                return record
        return None


def culprit_autopsy(run: str) -> tuple[str, ...]:
    """The autopsy a run folder's report holds, as text lines (none when it has none or is gone)."""
    try:
        autopsy = load_run(Path(run)).autopsy
    except RunFolderError:
        return ()
    return () if autopsy is None else tuple(autopsy_lines(autopsy))
