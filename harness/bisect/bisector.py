"""The bisect procedure: check the endpoints, then let the strategy search the range until one build is left.

The :class:`Bisector` boots builds on the boards, keeps the journal, records decisions, checks the
endpoints, verifies and reverts; the strategy (:mod:`harness.bisect.strategies`) chooses what to
boot next and when the answer stands.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from harness.autopsy.render import autopsy_lines
from harness.bisect.answer import Answer, Checked, Located, Proof, compose, rows_from_events
from harness.bisect.cache import VerdictCache
from harness.bisect.criterion import BadIf, Criterion, Outcome, can_define_hang
from harness.bisect.html import write_html
from harness.bisect.journal import LOG_NAME, Event, Journal, Restored, read_events
from harness.bisect.phase import Phase
from harness.bisect.progress import Progress
from harness.bisect.search import Decision, Inconclusive, Search, State
from harness.bisect.series import Build, Series, Unbuildable
from harness.bisect.settings import ENDPOINT_PATIENCE, Settings
from harness.bisect.stats import HangRate
from harness.bisect.strategies import STRATEGIES, outcome_word
from harness.bisect.trials import BoardPool, Booter, RunRecord
from harness.errors import ConfigError
from harness.model.board import Board
from harness.records.run_folder import RunFolderError, load_run
from harness.run.runner import Stopped

T = TypeVar("T")

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
        journal.write(Event.START, **settings.start_event(names))
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
        journal.write(Event.SESSION)
    return journal, restored


class Bisector:
    """One bisect over a series; :meth:`run` returns the answer and writes ``bisect.json``.

    It provides the services a strategy uses (:class:`~harness.bisect.strategies.Bisection`):
    building, booting, recording decisions, rounds and verification.
    """

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
        self.strategy = STRATEGIES[settings.strategy]()
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
        self.lock = threading.Lock()
        self.verified: bool | None = None
        self.verify_note = ""
        self._verify_runs = 1
        self._revert_note = ""
        self._revert_held: bool | None = None
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
                    self.build(index)
            try:
                self._endpoints()
                self.strategy.search(self, search)
                reason = "" if search.found else "every build left between the last good and first bad is a skip"
            except Inconclusive as exc:
                reason = str(exc)
            if not reason and search.found and self.settings.revert_check:
                self._revert_check(search)
            answer = self._answer(search, reason, time.monotonic() - started)
        except BaseException:
            self._stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            self.progress.close()
            raise
        executor.shutdown()
        self.progress.close()
        self.journal.write(Event.RESULT, **{k: v for k, v in answer.as_dict().items() if k != "rows"})
        answer.write(self.settings.out)
        write_html(answer, self.settings.out)
        return answer

    @property
    def boards(self) -> int:
        """How many boots can run at once."""
        return self.pool.size

    def parallel(self, jobs: Sequence[Callable[[Board], T]]) -> list[T]:
        """Each job on a free board, all at once; the results in the jobs' order."""
        futures = [self._executor.submit(self.pool.call, job) for job in jobs]
        return [future.result() for future in futures]

    def prepared(self, index: int) -> Build | Unbuildable | None:
        """The build at ``index`` if it was prepared already, else ``None`` (nothing is built)."""
        with self.lock:
            return self._builds.get(index)

    def build(self, index: int) -> Build | Unbuildable:
        """The build at ``index``, prepared once (and logged)."""
        known = self.prepared(index)
        if known is not None:
            return known
        prepared = self.series.prepare(index)
        with self.lock:
            self._builds[index] = prepared
        if isinstance(prepared, Build):
            self.journal.write(Event.BUILD, index=index, build=prepared.name, key=prepared.key)
        else:
            self.journal.write(Event.BUILD, index=index, build=prepared.name, key=None, reason=prepared.reason)
        return prepared

    def boot(self, board: Board, build: Build, phase: Phase) -> RunRecord:
        """One new run of a build (its attempt number follows every earlier run of it), logged."""
        if self._stop.is_set():
            raise Stopped("bisect is stopping")
        with self.lock:
            attempt = self._attempts.get(build.index, 0) + 1
            self._attempts[build.index] = attempt
        self.progress.boot_started()
        try:
            record = self.booter.boot(board, build, attempt, phase)
        finally:
            self.progress.boot_finished()
        # A revert build is not in the series: its runs are logged apart, never evidence about the culprit.
        event = Event.REVERT if phase is Phase.REVERT else Event.RUN
        self.journal.write(event, **record.as_event(self.criterion.classify(record.verdict)))
        if event is Event.RUN:
            with self.lock:
                self.history[build.index] = (*self.history.get(build.index, ()), record)
        return record

    def record(self, decision: Decision, seconds: float, runs: int, quiet: bool = False) -> Decision:
        """Log a decision and keep it (and, for a build with a key, cache it for its twins)."""
        self.decided[decision.index] = decision
        if decision.key:
            self.cache.put(decision.key, decision.state.value, decision.name)
        self.journal.write(
            Event.DECISION,
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

    def next_round(self) -> int:
        """Begin the next round of the search; its number is logged, so a resumed bisect goes on from it."""
        self._round += 1
        self.journal.write(Event.ROUND, round=self._round)
        return self._round

    # -- verification ---------------------------------------------------------------------------

    def verify(self, culprit: int, last_good: int, runs: int) -> tuple[bool, str]:
        """Boot the culprit until it hangs and the last good build until it passed ``runs`` times."""
        names = self.series.names
        self._verify_runs = runs
        self.progress.update(left=f"verifying {names[culprit]} and {names[last_good]}", boots_left=runs + 1)

        culprit, last_good = self._source(culprit), self._source(last_good)
        bad_build, good_build = self.build(culprit), self.build(last_good)
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
            for side, outcome in zip(sides, self.parallel(jobs), strict=True):
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
            seen += self.parallel([self._verify_job(build, Phase.REVERT) for _ in range(batch)])
        failed = next((i for i, o in enumerate(seen) if o is not Outcome.GOOD), None)
        self._revert_held = failed is None
        self._revert_note = (
            f"{where} passed {len(seen)} of {len(seen)} boots"
            if failed is None
            else f"{where} {outcome_word(seen[failed])} on boot {failed + 1}"
        )
        outcome = "the revert passed" if self._revert_held else "the revert did NOT pass"
        self.progress.decision(f"revert check: {self._revert_note}: {outcome}")

    def _verify_job(self, build: Build | Unbuildable, phase: Phase = Phase.VERIFY) -> Callable[[Board], Outcome]:
        assert isinstance(build, Build)  # only a built build has verify boots left
        return lambda board: self.criterion.classify(self.boot(board, build, phase).verdict)

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
        bad = self.build(last)
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
            self.record(Decision(last, bad.name, State.BAD, passes, "bad endpoint", bad.key), 0.0, len(records))
        if not self.settings.check_endpoints:
            self._assume_endpoints(HangRate(hangs, 0, deterministic=True))
            return
        self.rate = HangRate.from_endpoint(hangs, passes, self.settings.endpoint_runs)
        good = self.strategy.good_endpoint(self)
        if good.state is not State.GOOD:
            detail = good.reason or "it shows the hang"
            raise Inconclusive(f"the good endpoint {good.name} is not good: {detail}")

    def _early_good_endpoint(self) -> Build | None:
        """The good endpoint to boot in the bad endpoint's first batch, if the strategy boots it once and still must.

        Its one boot does not depend on the bad endpoint's runs (its outcome is classified only
        after them, under the signature they teach), so it takes a board that the bad endpoint's
        batch leaves idle instead of a round of its own.
        """
        if not self.strategy.good_endpoint_early or not self.settings.check_endpoints or 0 in self.decided:
            return None
        if self.history.get(0):
            return None
        build = self.build(0)
        return build if isinstance(build, Build) else None

    def _assume_endpoints(self, rate: HangRate) -> None:
        """``--no-check-endpoints``: the endpoints are as given and the hang is deterministic."""
        self.rate = rate
        names = self.series.names
        for index, state in ((0, State.GOOD), (len(names) - 1, State.BAD)):
            if index not in self.decided:
                self.record(Decision(index, names[index], state, 0, "endpoint (not checked)"), 0.0, 0)

    def _endpoint_runs(self, bad: Build, wanted: int, good: Build | None = None) -> list[RunRecord]:
        """The bad endpoint's runs, at least ``wanted`` and until one fails, in parallel batches.

        ``good``, when given, is booted once in the first batch if that batch leaves a board idle
        (last, so the bad endpoint's runs take the boards first); its run lands in the history.
        """
        records = list(self.history.get(bad.index, ()))
        limit = self.settings.endpoint_limit if wanted == self.settings.endpoint_runs else wanted * ENDPOINT_PATIENCE
        told = False
        while len(records) < wanted or (len(records) < limit and self._endpoint_undecided(records)):
            if len(records) >= wanted and not told:
                told = True
                failed = any(can_define_hang(r.verdict) for r in records)
                why = "its most frequent failures are tied" if failed else "did not fail"
                self.progress.decision(
                    f"the bad endpoint {bad.name} {why} in {len(records)} runs; booting it up to "
                    f"{limit - len(records)} more times (--endpoint-max {limit}) until "
                    f"{'one leads' if failed else 'it does'}"
                )
            # Never past the bound, even on many boards at once.
            count = min(max(wanted - len(records), 1), limit - len(records))
            jobs: list[Callable[[Board], RunRecord]] = [self._endpoint_job(bad) for _ in range(count)]
            # Only on a board the batch leaves idle: a bad endpoint that does not reproduce costs no more.
            if good is not None and count % self.pool.size:
                jobs.append(self._endpoint_job(good))
            batch = self.parallel(jobs)
            records.extend(batch[:count])
            good = None
        return records

    def _endpoint_undecided(self, records: Sequence[RunRecord]) -> bool:
        """Whether the bad endpoint's runs do not yet say what the hang is: none failed, or (when
        the signature is to be learned from them) its two most frequent failures are tied, say a
        boot the host held off beside the real hang: a tie is no most frequent failure."""
        counts = Counter(r.verdict.signature for r in records if can_define_hang(r.verdict)).most_common(2)
        if not counts:
            return True
        learning = self.criterion.signature is None and self.settings.bad_if is BadIf.SIGNATURE
        return learning and len(counts) == 2 and counts[0][1] == counts[1][1]

    def _endpoint_job(self, bad: Build) -> Callable[[Board], RunRecord]:
        return lambda board: self.boot(board, bad, Phase.ENDPOINT)

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
        self.journal.write(Event.SIGNATURE, signature=signature)

    # -- the answer -----------------------------------------------------------------------------

    def _answer(self, search: Search, reason: str, wall: float) -> Answer:
        found = not reason and search.found
        hung = self._run_of(search.first_bad, Outcome.BAD) if found else None
        passed = self._run_of(search.last_good, Outcome.GOOD) if found else None
        proof = Proof(
            hung.verdict if hung else None,
            Located.of(hung.out_dir) if hung else None,
            Located.of(passed.out_dir) if passed else None,
            culprit_autopsy(hung.out_dir) if hung else (),
        )
        return compose(
            self.journal.events,
            self.series.names,
            search,
            reason,
            wall=wall,
            estimate=self.strategy.estimate(self, search, found),
            proof=proof,
            checked=Checked(self.verified, self.verify_note, self._revert_held, self._revert_note),
            signature=self.criterion.signature,
            commit=self.series.describe(search.first_bad) if found else None,
            seed=self.settings.seed,
            out=self.settings.out,
            strategy=self.settings.strategy,
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
