"""harness/bisect/journal.py: the bisect log, read back and appended to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bisect.journal import Event, Journal, Restored, check_events, read_events, total_wall
from harness.errors import ConfigError


def test_a_log_must_start_with_a_start_event(tmp_path: Path) -> None:
    (tmp_path / "bisect.log").write_text('{"event": "run"}\n')
    with pytest.raises(ConfigError, match="not a hartbeat bisect log"):
        read_events(tmp_path / "bisect.log")


def test_a_torn_log_line_is_cut_before_appending(tmp_path: Path) -> None:
    log = tmp_path / "bisect.log"
    log.write_text('{"event": "start"}\n{"event": "run", "bu')
    journal = Journal(log, read_events(log))
    journal.write(Event.RUN, build="b1")
    journal.write(Event.RUN, build="b2")
    journal.close()
    assert [e.get("build") for e in read_events(log)] == [None, "b1", "b2"]


# A log as hartbeat wrote it before event kinds were an enum: plain words in "event".
OLD_LOG = [
    {"event": "start", "version": 1, "seed": 7, "at": 100.0},
    {"event": "round", "round": 1, "at": 101.0},
    {"event": "build", "index": 0, "build": "b0", "key": "k0", "at": 101.5},
    {"event": "run", "index": 0, "build": "b0", "verdict": {"kind": "pass"}, "seconds": 1.0, "at": 102.0},
    {"event": "decision", "index": 0, "build": "b0", "state": "good", "at": 102.5},
    {"event": "signature", "signature": "wedge|x", "at": 103.0},
    {"event": "result", "status": "found", "at": 110.0},
    {"event": "session", "at": 200.0},
]


def test_an_old_log_reads_back_and_new_events_are_written_as_the_same_words(tmp_path: Path) -> None:
    log = tmp_path / "bisect.log"
    log.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in OLD_LOG))
    events = check_events(log, read_events(log))
    restored = Restored.from_events(events)
    assert (restored.rounds, list(restored.runs), list(restored.decisions)) == (1, [0], [0])
    assert restored.signature == "wedge|x" and restored.result is not None
    # Two sessions: the first lasted from its start (100) to its last event (110).
    assert total_wall(events, 5.0) == 15.0
    journal = Journal(log, events)
    journal.write(Event.ROUND, round=2)
    journal.close()
    last = log.read_text().splitlines()[-1]
    assert json.loads(last)["event"] == "round" and '"event": "round"' in last
    assert [e["event"] for e in read_events(log)] == [e["event"] for e in OLD_LOG] + ["round"]
