"""harness/bisect/journal.py: the bisect log, read back and appended to."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bisect.journal import Journal, read_events
from harness.errors import ConfigError


def test_a_log_must_start_with_a_start_event(tmp_path: Path) -> None:
    (tmp_path / "bisect.log").write_text('{"event": "run"}\n')
    with pytest.raises(ConfigError, match="not a hartbeat bisect log"):
        read_events(tmp_path / "bisect.log")


def test_a_torn_log_line_is_cut_before_appending(tmp_path) -> None:
    log = tmp_path / "bisect.log"
    log.write_text('{"event": "start"}\n{"event": "run", "bu')
    journal = Journal(log, read_events(log))
    journal.write("run", build="b1")
    journal.write("run", build="b2")
    journal.close()
    assert [e.get("build") for e in read_events(log)] == [None, "b1", "b2"]
