"""The answer of a bisect: first bad and last good build, the hang, every build tried; text and JSON."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.bisect.journal import Event, total_wall
from harness.bisect.phase import Phase
from harness.bisect.search import Search, State
from harness.bisect.series import Commit
from harness.engine.verdict import Verdict

RESULT_NAME = "bisect.json"
SCHEMA = "hartbeat.bisect/1"
LAST_LINES = 10


class Status(StrEnum):
    """How a bisect ended, as ``bisect.json`` and the log's ``result`` event spell it."""

    FOUND = "found"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Row:
    """One build in the decision table."""

    index: int
    name: str
    state: str
    runs: int
    seconds: float
    verdicts: str
    note: str


@dataclass(frozen=True)
class Located:
    """A run's folder and its ``console.log``: where the evidence for the answer is."""

    run: str
    console_log: str

    @classmethod
    def of(cls, run: str) -> Located:
        """A run folder and the console log in it."""
        return cls(run, str(Path(run) / "console.log"))


@dataclass(frozen=True)
class Estimate:
    """What a strategy concludes about the hang: how often it shows, and how sure the answer is."""

    hang_rate: float
    deterministic: bool
    confidence: float


@dataclass(frozen=True)
class Checked:
    """What booting the answer again showed; ``None``: the check was not run."""

    verified: bool | None = None
    verify_note: str = ""
    revert_held: bool | None = None
    revert_note: str = ""


@dataclass(frozen=True)
class Answer:
    """Everything ``bisect.json`` holds; ``status`` is ``found`` or ``inconclusive``.

    ``culprit`` is the run in which the first bad build hung, ``last_good_run`` one in which the
    last good build passed; ``last_lines`` (with ``last_line_times``, seconds since power-on) come
    from the culprit's run. ``verified`` says whether the answer held when booted again.
    """

    status: Status
    reason: str
    first_bad: str | None
    last_good: str | None
    remaining: tuple[str, ...]
    signature: str | None
    last_lines: tuple[str, ...]
    rows: tuple[Row, ...]
    total_boots: int
    endpoint_boots: int
    candidate_boots: int
    wall_seconds: float
    confidence: float
    hang_rate: float
    deterministic: bool
    seed: int
    out: str
    strategy: str = "repeat"
    verify_boots: int = 0
    verified: bool | None = None
    verify_note: str = ""
    last_line_times: tuple[float, ...] = ()
    culprit: Located | None = None
    last_good_run: Located | None = None
    subject: str | None = None
    author: str | None = None
    sessions: int = 1
    # Git mode: the repository and the culprit's full commit id.
    repo: str | None = None
    commit: str | None = None
    # --revert-check: the culprit reverted on top of the bad endpoint, booted; None when not run.
    revert_held: bool | None = None
    revert_note: str = ""
    revert_boots: int = 0
    # The culprit's run's autopsy, as text lines: where the harts were when it hung.
    autopsy: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], rows: Sequence[Row]) -> Answer:
        """The answer as a ``result`` event or ``bisect.json`` holds it (keys it does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k != "rows"}
        for name in ("remaining", "last_lines", "last_line_times", "autopsy"):
            values[name] = tuple(values.get(name, ()))
        # An unknown status is a ValueError, which the caller reports as a damaged log.
        values["status"] = Status(data["status"])
        for name in ("culprit", "last_good_run"):
            if values.get(name) is not None:
                values[name] = Located(**values[name])
        return cls(**values, rows=tuple(rows))

    @property
    def next_steps(self) -> tuple[str, ...]:
        """What a person does next with the answer."""
        if self.status is not Status.FOUND:
            return ()
        steps = []
        if self.subject is not None:
            # -C: the command works from wherever the bisect was started, not only inside the repo.
            where = f" -C {shlex.quote(self.repo)}" if self.repo else ""
            steps.append(f"git{where} show {self.commit or self.first_bad}")
        if self.culprit and self.last_good_run:
            steps.append(f"hartbeat compare {self.last_good_run.run} {self.culprit.run}")
        return tuple(steps)

    @property
    def regzbot(self) -> str | None:
        """The line the Linux regression tracker reads in a report, in git mode: ``#regzbot introduced: <sha>``.

        Not given for a culprit whose revert check failed: the answer does not stand.
        """
        if self.status is not Status.FOUND or self.commit is None or self.revert_held is False:
            return None
        return f"#regzbot introduced: {self.commit}"

    @property
    def exit_code(self) -> int:
        """0 when the culprit was found (and its revert passed, if checked), 1 otherwise."""
        return 0 if self.status is Status.FOUND and self.revert_held is not False else 1

    def boots_text(self) -> str:
        """``126 boots (8 endpoint, 90 candidate, 28 verify)``: the parts add up to the total."""
        parts = [f"{self.endpoint_boots} endpoint", f"{self.candidate_boots} candidate", f"{self.verify_boots} verify"]
        if self.revert_boots:
            parts.append(f"{self.revert_boots} revert check")
        sessions = f" over {self.sessions} sessions" if self.sessions > 1 else ""
        return f"{self.total_boots} boots ({', '.join(parts)}){sessions}"

    def verification_text(self) -> str | None:
        """What booting the answer again showed, or ``None`` when it was not verified."""
        if self.verified is None:
            return None
        return f"{self.verify_note}: {'the answer held' if self.verified else 'the answer did NOT hold'}"

    def revert_text(self) -> str | None:
        """What the revert check showed, or ``None`` when it was not run."""
        if self.revert_held is None:
            return None
        return f"{self.revert_note}: {'the revert passed' if self.revert_held else 'the revert did NOT pass'}"

    def timed_last_lines(self) -> list[str]:
        """The culprit's last lines, each with its time since power-on when known."""
        times = self.last_line_times or (None,) * len(self.last_lines)
        return [
            (f"[{t:9.3f}] " if t is not None else "") + line for t, line in zip(times, self.last_lines, strict=True)
        ]

    def rate_text(self) -> str:
        """``hang shows in 40% of boots; confidence 0.993; seed 7``."""
        rate = "every boot (deterministic)" if self.deterministic else f"{self.hang_rate:.0%} of boots"
        return f"hang shows in {rate}; confidence {self.confidence:.3f}; seed {self.seed}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON document."""
        data = asdict(self)
        data["rows"] = [asdict(row) for row in self.rows]
        data["next_steps"] = list(self.next_steps)
        data["regzbot"] = self.regzbot
        return {"schema": SCHEMA, **data}

    def write(self, folder: Path) -> Path:
        """Write ``bisect.json`` into the bisect folder."""
        path = folder / RESULT_NAME
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def text(self) -> str:
        """The answer for a terminal."""
        lines = [table(self.rows), ""]
        if self.status is Status.FOUND:
            lines.append(f"first bad build: {self.first_bad}  (last good: {self.last_good})")
            if self.subject is not None:
                lines.append(f"  commit: {self.subject}  ({self.author})")
        else:
            lines.append(f"inconclusive: {self.reason}")
            if self.remaining:
                lines.append(f"the culprit is one of: {', '.join(self.remaining)}")
        if self.signature:
            lines.append(f"signature: {self.signature}")
        if self.culprit:
            lines.append(f"hang:   {self.culprit.console_log}")
        if self.last_good_run:
            lines.append(f"passed: {self.last_good_run.console_log}")
        if self.last_lines:
            origin = f" (run {self.culprit.run})" if self.culprit else ""
            lines.append(f"last lines before the failure{origin}:")
            lines.extend(f"  | {line}" for line in self.timed_last_lines())
        if self.autopsy:
            lines.append("the culprit's autopsy:")
            lines.extend(self.autopsy)
        verification = self.verification_text()
        if verification is not None:
            lines.append(f"verified: {verification}")
        revert = self.revert_text()
        if revert is not None:
            lines.append(f"revert check: {revert}")
        lines.append(f"{self.boots_text()}, {self.wall_seconds:.1f} s; strategy {self.strategy}; {self.rate_text()}")
        if self.regzbot:
            lines.append(self.regzbot)
        for step in self.next_steps:
            lines.append(f"next: {step}")
        lines.append(f"details: {Path(self.out) / RESULT_NAME} ({Path(self.out) / 'bisect.html'})")
        return "\n".join(lines)


@dataclass(frozen=True)
class Proof:
    """The runs that show the answer: the culprit's hang (its verdict) and the last good build's pass."""

    verdict: Verdict | None = None
    culprit: Located | None = None
    last_good_run: Located | None = None
    # The culprit's run's autopsy, as text lines.
    autopsy: tuple[str, ...] = ()


def compose(
    events: Sequence[dict[str, Any]],
    names: Sequence[str],
    search: Search,
    reason: str,
    *,
    wall: float,
    estimate: Estimate,
    proof: Proof,
    checked: Checked,
    signature: str | None,
    commit: Commit | None,
    seed: int,
    out: Path,
    strategy: str,
) -> Answer:
    """The answer from the log's events and the search's end; ``reason`` says why a search is inconclusive."""
    runs = [e for e in events if e.get("event") == Event.RUN]
    revert_boots = sum(1 for e in events if e.get("event") == Event.REVERT)
    endpoint_boots = sum(1 for e in runs if e["phase"] == Phase.ENDPOINT)
    verify_boots = sum(1 for e in runs if e["phase"] == Phase.VERIFY)
    found = not reason and search.found
    hang = proof.verdict
    timed = hang.last_lines[-LAST_LINES:] if hang else ()
    return Answer(
        status=Status.FOUND if found else Status.INCONCLUSIVE,
        reason=reason,
        first_bad=names[search.first_bad] if found else None,
        last_good=names[search.last_good] if found else None,
        remaining=() if found else tuple(names[i] for i in search.remaining()),
        signature=hang.signature if hang else signature,
        last_lines=tuple(line for _t, line in timed),
        rows=tuple(rows_from_events(events)),
        total_boots=len(runs) + revert_boots,
        endpoint_boots=endpoint_boots,
        candidate_boots=len(runs) - endpoint_boots - verify_boots,
        wall_seconds=round(total_wall(list(events), wall), 3),
        confidence=round(estimate.confidence, 6),
        hang_rate=round(estimate.hang_rate, 4),
        deterministic=estimate.deterministic,
        seed=seed,
        out=str(out),
        strategy=strategy,
        verify_boots=verify_boots,
        verified=checked.verified,
        verify_note=checked.verify_note,
        last_line_times=tuple(round(t, 3) for t, _line in timed),
        culprit=proof.culprit,
        last_good_run=proof.last_good_run,
        subject=commit.subject if commit else None,
        author=commit.author if commit else None,
        sessions=1 + sum(1 for e in events if e.get("event") == Event.SESSION),
        repo=commit.repo or None if commit else None,
        commit=commit.sha or None if commit else None,
        revert_held=checked.revert_held,
        revert_note=checked.revert_note,
        revert_boots=revert_boots,
        autopsy=proof.autopsy,
    )


def table(rows: Sequence[Row]) -> str:
    """The decision table, one line per build tried, in series order."""
    header = f"{'#':>4}  {'build':24} {'state':7} {'runs':>4} {'seconds':>8}  {'verdicts':24} note"
    body = [
        f"{row.index:>4}  {row.name:24} {row.state:7} {row.runs:>4} {row.seconds:>8.1f}  {row.verdicts:24} {row.note}"
        for row in sorted(rows, key=lambda r: r.index)
    ]
    return "\n".join([header, *body])


def rows_from_events(events: Sequence[dict[str, Any]]) -> list[Row]:
    """The decision table from a log's events (``hartbeat bisect --replay``)."""
    runs: dict[int, list[dict[str, Any]]] = {}
    keys: dict[int, str] = {}
    names: dict[int, str] = {}
    decisions: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event.get("event")
        if kind == Event.RUN:
            runs.setdefault(event["index"], []).append(event)
        elif kind == Event.BUILD and event.get("key"):
            keys[event["index"]] = event["key"]
        elif kind == Event.DECISION:
            decisions[event["index"]] = event
        if "index" in event:
            names[event["index"]] = event["build"]
    rows = []
    for index in sorted(set(runs) | set(decisions)):
        tried = runs.get(index, [])
        kinds = Counter(run["verdict"]["kind"] for run in tried)
        decision = decisions.get(index)
        notes = []
        if decision and decision.get("cached_from"):
            notes.append(f"same artefacts as {decision['cached_from']}")
        if index in keys and keys.get(index - 1) == keys[index]:
            notes.append(f"no-op change: same artefacts as {names.get(index - 1, index - 1)}")
        if decision and decision.get("reason") == "posterior":
            notes.append("by the posterior")
        if decision and decision["state"] == State.SKIP:
            notes.append(decision.get("reason", ""))
        rows.append(
            Row(
                index=index,
                name=names[index],
                state=decision["state"] if decision else "undecided",
                runs=len(tried),
                seconds=round(sum(run["seconds"] for run in tried), 3),
                verdicts=" ".join(f"{kind}x{count}" for kind, count in sorted(kinds.items())) or "-",
                note="; ".join(n for n in notes if n),
            )
        )
    return rows
