"""The bisect procedure: check the endpoints, then split the range round by round until one build is left."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.bisect.cache import VerdictCache
from harness.bisect.criterion import BadIf, Criterion, Outcome, can_define_hang
from harness.bisect.journal import LOG_NAME, VERSION, Journal, Restored, read_events
from harness.bisect.report import LAST_LINES, Answer, rows_from_events
from harness.bisect.search import Search, State
from harness.bisect.series import Build, Series, Unbuildable
from harness.bisect.stats import HangRate, confidence
from harness.bisect.trials import BoardPool, Booter, RunRecord
from harness.board import Board
from harness.errors import ConfigError, HartbeatError
from harness.plan import Plan
from harness.runner import Stopped
from harness.verdict import Verdict

T = TypeVar("T")
# A bad endpoint that has not failed after this many times its endpoint runs does not reproduce.
ENDPOINT_PATIENCE = 4


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

    def start_event(self, names: Sequence[str]) -> dict[str, Any]:
        """What the log's first line records, and what ``--resume`` must find unchanged."""
        return {
            "version": VERSION,
            "names": list(names),
            "plan": str(self.plan.path),
            "bad_if": self.bad_if.value,
            "miss": self.miss,
            "endpoint_runs": self.endpoint_runs,
            "check_endpoints": self.check_endpoints,
            "seed": self.seed,
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


RESUMED_KEYS = ("names", "plan", "bad_if", "miss", "endpoint_runs", "check_endpoints")


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
    for key in RESUMED_KEYS:
        if restored.start.get(key) != expected[key]:
            raise ConfigError(
                path,
                key,
                f"the earlier bisect used {restored.start.get(key)!r}, this one {expected[key]!r}; "
                "resume with the same options or start a new --out",
            )
    return Journal(path, events), restored


class Bisector:
    """One bisect over a series; :meth:`run` returns the answer and writes ``bisect.json``."""

    def __init__(self, settings: Settings, series: Series, journal: Journal, restored: Restored | None) -> None:
        self.settings = settings
        self.series = series
        self.journal = journal
        self.pool = BoardPool(settings.boards)
        # Set on a signal: no new run starts, and runs in progress end within a quarter second.
        self._stop = threading.Event()
        self.booter = Booter(settings.plan, settings.variables, settings.out, settings.seed, self._stop)
        self.cache = VerdictCache()
        self.history: dict[int, tuple[RunRecord, ...]] = {}
        self.decided: dict[int, Decision] = {}
        if restored is not None:
            self._restore(restored)
        self.criterion = Criterion(settings.bad_if, restored.signature if restored else None)
        self.rate = HangRate(1, 0, deterministic=True)
        self._builds: dict[int, Build | Unbuildable] = {}
        self._lock = threading.Lock()

    def _restore(self, restored: Restored) -> None:
        for index, events in restored.runs.items():
            self.history[index] = tuple(RunRecord.from_event(event) for event in events)
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
        started = time.monotonic()
        executor = ThreadPoolExecutor(max_workers=self.pool.size, thread_name_prefix="bisect")
        self._executor = executor
        try:
            search = Search(len(self.series.names))
            if self.series.eager:
                for index in range(len(self.series.names)):
                    self._build(index)
            try:
                self._endpoints()
                while points := search.next_candidates(self.pool.size):
                    for decision in self._parallel([self._decider(i, "candidate") for i in points]):
                        search.decide(decision.index, decision.state)
                reason = "" if search.found else "every build left between the last good and first bad is a skip"
            except Inconclusive as exc:
                reason = str(exc)
            answer = self._answer(search, reason, time.monotonic() - started)
        except BaseException:
            self._stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown()
        self.journal.write("result", **{k: v for k, v in answer.as_dict().items() if k != "rows"})
        answer.write(self.settings.out)
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

    def _boots(self, index: int, board: Board, build: Build, phase: str) -> Iterator[RunRecord]:
        """The runs of a build: those already in the log first, then new ones for as long as asked."""
        yield from self.history.get(index, ())
        attempt = len(self.history.get(index, ()))
        while True:
            if self._stop.is_set():
                raise Stopped("bisect is stopping")
            attempt += 1
            record = self.booter.boot(board, build, attempt, phase)
            self.journal.write("run", **record.as_event(self.criterion.classify(record.verdict)))
            yield record

    def _record(self, decision: Decision, seconds: float, runs: int) -> Decision:
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
        return decision

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
        records = self._endpoint_runs(bad, wanted)
        if self.criterion.signature is None and self.settings.bad_if is BadIf.SIGNATURE:
            self._learn_signature(bad, records)
        outcomes = [self.criterion.classify(r.verdict) for r in records]
        hangs, passes = outcomes.count(Outcome.BAD), outcomes.count(Outcome.GOOD)
        if not hangs:
            raise Inconclusive(f"the bad endpoint {bad.name} did not show the hang in {len(records)} runs")
        if last not in self.decided:
            self._record(Decision(last, bad.name, State.BAD, passes, "bad endpoint", bad.key), 0.0, len(records))
        if not self.settings.check_endpoints:
            self._assume_endpoints(HangRate(hangs, 0, deterministic=True))
            return
        self.rate = HangRate.from_endpoint(hangs, passes, self.settings.endpoint_runs)
        good = self._parallel([self._decider(0, "endpoint")])[0]
        if good.state is not State.GOOD:
            detail = good.reason or "it shows the hang"
            raise Inconclusive(f"the good endpoint {good.name} is not good: {detail}")

    def _assume_endpoints(self, rate: HangRate) -> None:
        """``--no-check-endpoints``: the endpoints are as given and the hang is deterministic."""
        self.rate = rate
        names = self.series.names
        for index, state in ((0, State.GOOD), (len(names) - 1, State.BAD)):
            if index not in self.decided:
                self._record(Decision(index, names[index], state, 0, "endpoint (not checked)"), 0.0, 0)

    def _endpoint_runs(self, bad: Build, wanted: int) -> list[RunRecord]:
        """The bad endpoint's runs, at least ``wanted`` and until one fails, in parallel batches."""
        records = list(self.history.get(bad.index, ()))
        limit = wanted * ENDPOINT_PATIENCE
        while len(records) < wanted or (not any(can_define_hang(r.verdict) for r in records) and len(records) < limit):
            count = max(wanted - len(records), 1)
            first = len(records) + 1
            batch = self._parallel([self._endpoint_job(bad, first + i) for i in range(count)])
            records.extend(batch)
        return records

    def _endpoint_job(self, bad: Build, attempt: int) -> Callable[[Board], RunRecord]:
        def job(board: Board) -> RunRecord:
            if self._stop.is_set():
                raise Stopped("bisect is stopping")
            record = self.booter.boot(board, bad, attempt, "endpoint")
            self.journal.write("run", **record.as_event(self.criterion.classify(record.verdict)))
            return record

        return job

    def _learn_signature(self, bad: Build, records: Sequence[RunRecord]) -> None:
        """The hang is the most frequent failure of the bad endpoint; harness errors do not count."""
        signatures = Counter(r.verdict.signature for r in records if can_define_hang(r.verdict))
        if not signatures:
            raise Inconclusive(f"the bad endpoint {bad.name} did not fail in {len(records)} runs")
        signature = signatures.most_common(1)[0][0]
        self.criterion = self.criterion.with_signature(signature)
        self.journal.write("signature", signature=signature)

    # -- the answer -----------------------------------------------------------------------------

    def _answer(self, search: Search, reason: str, wall: float) -> Answer:
        names = self.series.names
        events = self.journal.events
        runs = [e for e in events if e.get("event") == "run"]
        endpoint_boots = sum(1 for e in runs if e["phase"] == "endpoint")
        found = not reason and search.found
        first_bad = search.first_bad
        evidence = self._evidence(first_bad) if found else None
        # A good decision with no passes of its own (a cache hit, an endpoint assumed good) adds
        # no doubt: its evidence is counted where it was gathered, or the user vouched for it.
        goods = [
            (i, d.passes) for i, d in self.decided.items() if d.state is State.GOOD and d.passes > 0 and i < first_bad
        ]
        return Answer(
            status="found" if found else "inconclusive",
            reason=reason,
            first_bad=names[first_bad] if found else None,
            last_good=names[search.last_good] if found else None,
            remaining=() if found else tuple(names[i] for i in search.remaining()),
            signature=evidence.signature if evidence else self.criterion.signature,
            last_lines=tuple(line for _t, line in evidence.last_lines[-LAST_LINES:]) if evidence else (),
            rows=tuple(rows_from_events(events)),
            total_boots=len(runs),
            endpoint_boots=endpoint_boots,
            candidate_boots=len(runs) - endpoint_boots,
            wall_seconds=round(wall, 3),
            confidence=round(confidence(self.rate, goods), 6) if found else 0.0,
            hang_rate=round(self.rate.estimate, 4),
            deterministic=self.rate.deterministic,
            seed=self.settings.seed,
            out=str(self.settings.out),
        )

    def _evidence(self, index: int) -> Verdict | None:
        """The verdict of the run that showed the hang on a build (or on the build it shares artefacts with)."""
        decision = self.decided.get(index)
        names = self.series.names
        if decision is not None and decision.cached_from is not None:
            index = names.index(decision.cached_from)
        for event in reversed(self.journal.events):
            if event.get("event") == "run" and event["index"] == index:
                verdict = RunRecord.from_event(event).verdict
                if self.criterion.classify(verdict) is Outcome.BAD:
                    return verdict
        return None
