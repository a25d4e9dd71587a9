"""A killed bisect resumes: nothing decided is rerun, and the answer is the same."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from scripted_series import make_series

from conftest import REPO, bisect_args, hartbeat


def rounds(log: Path) -> list[int]:
    """The round numbers begun so far, from the log."""
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e["round"] for e in events if e["event"] == "round"]


def decisions(log: Path) -> list[int]:
    """The builds decided so far, from the log."""
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e["index"] for e in events if e["event"] == "decision"]


@pytest.mark.parametrize(("sig", "strategy"), [(signal.SIGTERM, "bayes"), (signal.SIGKILL, "repeat")])
def test_resume_after_kill(tmp_path: Path, scripted: tuple[Path, Path], sig: signal.Signals, strategy: str) -> None:
    builds = make_series(tmp_path, 32, culprit=11)
    out = tmp_path / "out"
    args = bisect_args(*scripted, builds, out, "--seed", "9", "--endpoint-runs", "2", "--strategy", strategy)
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = out / "bisect.log"
    deadline = time.monotonic() + 60
    while (not log.exists() or len(decisions(log)) < 4) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(sig)
    _out, stopped = process.communicate(timeout=30)
    if sig is not signal.SIGKILL:
        # Issue 24, item 3: one line saying where the log is, no "nothing was written" after it.
        assert process.returncode == 128 + sig, stopped
        assert f"stopped by {sig.name}" in stopped and "--resume" in stopped, stopped
        assert "nothing was written" not in stopped, stopped
    rounds_before = rounds(log)
    assert rounds_before, "the first session began rounds"
    decided_before = decisions(log)
    assert len(decided_before) >= 4 and not (out / "bisect.json").exists()
    runs_before = len([line for line in log.read_text().splitlines() if '"event": "run"' in line])

    done = hartbeat(*bisect_args(*scripted, builds, out, "--resume", "--endpoint-runs", "2"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "bisect.json").read_text())
    assert result["first_bad"] == "build-011" and result["seed"] == 9
    # Round numbers go on over sessions: the resumed one's first round follows the last one begun.
    assert rounds(log)[: len(rounds_before)] == rounds_before
    assert rounds(log) == list(range(1, len(rounds(log)) + 1)), rounds(log)
    shown = [int(n) for n in re.findall(r"round (\d+): ", done.stderr)]
    assert not shown or shown[0] > rounds_before[-1], done.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    # Verification boots the culprit and the last good build again on purpose.
    new_runs = [e for e in events if e["event"] == "run" and e["phase"] != "verify"][runs_before:]
    assert not {e["index"] for e in new_runs} & set(decided_before), "a decided build was booted again"
    assert max(Counter(decisions(log)).values()) == 1, "a build was decided twice"
    assert result["strategy"] == strategy and result["sessions"] == 2 and result["verified"] is True
    assert result["total_boots"] == len([e for e in events if e["event"] == "run"])

    # Resuming a finished bisect boots nothing and reports the whole bisect, both sessions.
    again = hartbeat(*bisect_args(*scripted, builds, out, "--resume", "--endpoint-runs", "2"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(log.read_text().splitlines()) == len(events)
    assert f"{result['total_boots']} boots" in again.stdout and "over 2 sessions" in again.stdout
    assert f"{result['wall_seconds']:.1f} s" in again.stdout


def test_resume_needs_the_same_options(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    builds = make_series(tmp_path, 4, culprit=2)
    out = tmp_path / "out"
    assert hartbeat(*bisect_args(*scripted, builds, out, "--endpoint-runs", "1")).returncode == 0
    done = hartbeat(*bisect_args(*scripted, builds, out, "--resume", "--endpoint-runs", "1", "--miss", "0.01"))
    assert done.returncode == 2 and "miss" in done.stderr
    again = hartbeat(*bisect_args(*scripted, builds, out, "--endpoint-runs", "1"))
    assert again.returncode == 2 and "--resume" in again.stderr
