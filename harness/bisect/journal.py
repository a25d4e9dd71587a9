"""``bisect.log``: one JSON object per line, flushed as it happens, so a killed bisect can resume.

Events: ``start`` (the configuration and the master seed), ``run`` (one boot and its verdict),
``signature`` (the hang, from the bad endpoint), ``decision`` (a build is good, bad or skip) and
``result`` (the answer). A run still going when bisect died has no line and is redone.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

LOG_NAME = "bisect.log"
VERSION = 1


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

    def write(self, event: str, **data: Any) -> None:
        """Append one event and flush it to the OS, so a SIGKILL loses nothing written."""
        record = {"event": event, **data}
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


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of a log; a torn last line (killed mid-write) is dropped."""
    if not path.is_file():
        raise ConfigError(path, "", "no bisect log here; give the --out folder of an earlier bisect")
    lines = path.read_text(encoding="utf-8").splitlines()
    events = []
    for number, line in enumerate(lines, 1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise ConfigError(path, f"line {number}", "not JSON; the log is damaged") from None
    if not events or events[0].get("event") != "start":
        raise ConfigError(path, "line 1", "not a hartbeat bisect log (no start event)")
    return events


@dataclass(frozen=True)
class Restored:
    """What an earlier, interrupted bisect had found: its start event, runs and decisions."""

    start: dict[str, Any]
    runs: dict[int, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    signature: str | None = None

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> Restored:
        """Fold a log's events into the state to resume from."""
        runs: dict[int, list[dict[str, Any]]] = {}
        decisions: dict[int, dict[str, Any]] = {}
        signature = None
        for event in events:
            kind = event.get("event")
            if kind == "run":
                runs.setdefault(event["index"], []).append(event)
            elif kind == "decision":
                decisions[event["index"]] = event
            elif kind == "signature":
                signature = event["signature"]
        return cls(events[0], {i: tuple(r) for i, r in runs.items()}, decisions, signature)
