"""``bisect.log``: one JSON object per line, flushed as it happens, so a killed bisect can resume.

Events: ``start`` (the configuration, the strategy and the master seed), ``session`` (a
``--resume`` began), ``round`` (a round of the search began: its number, which a resumed bisect
continues from), ``run`` (one boot and its verdict), ``signature`` (the hang, from the bad
endpoint), ``decision`` (a build is good, bad or skip) and ``result`` (the answer). Every event
carries ``at``, the wall-clock time it was written, so the whole bisect's time adds up over
sessions. A run still going when bisect died has no line and is redone.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

LOG_NAME = "bisect.log"
VERSION = 1


class Event(StrEnum):
    """The kind of a log line, its ``event`` field; the value is the word the log holds.

    A member equals its word, so events read back from a log (plain strings) compare equal too.
    """

    START = "start"
    SESSION = "session"
    ROUND = "round"
    BUILD = "build"
    RUN = "run"
    REVERT = "revert"  # a boot of a revert build: logged apart from the series' runs
    SIGNATURE = "signature"
    DECISION = "decision"
    RESULT = "result"


class Journal:
    """Appends events to the log; safe to call from several runner threads."""

    def __init__(self, path: Path, earlier: list[dict[str, Any]] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Every event of the log, earlier sessions' included: the answer is built from these.
        self.events: list[dict[str, Any]] = list(earlier or [])
        _cut_torn_line(path)
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, event: Event, **data: Any) -> None:
        """Append one event and flush it to the OS, so a SIGKILL loses nothing written."""
        record = {"event": event, **data, "at": round(time.time(), 3)}
        line = json.dumps(record, sort_keys=True)
        with self._lock:
            self.events.append(record)
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._handle.close()


def _cut_torn_line(path: Path) -> None:
    # A run killed mid-write leaves half a line; appending after it would glue the next event on.
    if not path.is_file():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)


# The fields each event must carry, and their types, for --resume and --replay to use it.
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    Event.START: {"seed": int},
    Event.RUN: {"index": int, "build": str, "verdict": dict, "seconds": (int, float)},
    Event.BUILD: {"index": int, "build": str},
    Event.DECISION: {"index": int, "build": str, "state": str},
    Event.SIGNATURE: {"signature": str},
    Event.ROUND: {"round": int},
    Event.RESULT: {"status": str},
}


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of a log; a torn last line (killed mid-write) is dropped.

    A damaged line (binary bytes, not a JSON object) is a :class:`ConfigError` naming the line,
    never a traceback; :func:`check_events` also checks each event's fields.
    """
    if not path.is_file():
        raise ConfigError(path, "", "no bisect log here; give the --out folder of an earlier bisect")
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    events = []
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            if number == len(lines):
                break
            raise ConfigError(path, f"line {number}", "not UTF-8 JSON; the log is damaged") from None
        if not isinstance(event, dict):
            raise ConfigError(
                path, f"line {number}", f"expected a JSON object, got {type(event).__name__}; damaged log"
            )
        events.append(event)
    if not events or events[0].get("event") != Event.START:
        raise ConfigError(path, "line 1", "not a hartbeat bisect log (no start event)")
    return events


def check_events(path: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` when every one has the fields ``--resume`` and ``--replay`` read, else a
    :class:`ConfigError` naming the damaged line."""
    for number, event in enumerate(events, 1):
        _check_event(path, number, event)
    return events


def _check_event(path: Path, number: int, event: dict[str, Any]) -> None:
    for name, kinds in _REQUIRED.get(str(event.get("event")), {}).items():
        value = event.get(name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise ConfigError(
                path, f"line {number}", f"{event.get('event')} event without a valid {name!r} ({value!r}); damaged log"
            )
    verdict = event.get("verdict")
    if isinstance(verdict, dict) and not isinstance(verdict.get("kind"), str):
        raise ConfigError(path, f"line {number}", "run event whose verdict has no kind; damaged log")


@dataclass(frozen=True)
class Restored:
    """What an earlier, interrupted bisect had found: its start event, runs and decisions."""

    start: dict[str, Any]
    runs: dict[int, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    signature: str | None = None
    result: dict[str, Any] | None = None
    # The last round an earlier session began: a resumed bisect numbers on from it.
    rounds: int = 0

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> Restored:
        """Fold a log's events into the state to resume from."""
        runs: dict[int, list[dict[str, Any]]] = {}
        decisions: dict[int, dict[str, Any]] = {}
        signature = None
        result = None
        rounds = 0
        for event in events:
            kind = event.get("event")
            if kind == Event.ROUND:
                rounds = max(rounds, int(event["round"]))
            elif kind == Event.RUN:
                runs.setdefault(event["index"], []).append(event)
            elif kind == Event.DECISION:
                decisions[event["index"]] = event
            elif kind == Event.SIGNATURE:
                signature = event["signature"]
            elif kind == Event.RESULT:
                result = event
        return cls(events[0], {i: tuple(r) for i, r in runs.items()}, decisions, signature, result, rounds)


def total_wall(events: list[dict[str, Any]], current: float) -> float:
    """The wall time of every session of a bisect: earlier ones from their events, plus ``current``.

    A session runs from its ``start`` or ``session`` event to its last event; a log written before
    events carried ``at`` counts the current session only.
    """
    sessions: list[list[float]] = []
    for event in events:
        if event.get("event") in (Event.START, Event.SESSION):
            sessions.append([])
        if "at" in event and sessions:
            sessions[-1].append(float(event["at"]))
    earlier = sessions[:-1]
    return current + sum(max(times) - min(times) for times in earlier if times)
