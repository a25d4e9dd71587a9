"""What a person sees: the live progress line (through a pty), the verify step, the answer's fields."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest
from scripted_series import HANG, make_series

from conftest import REPO, bisect_args, hartbeat
from harness.bisect.answer import Answer, Status, rows_from_events, table
from harness.bisect.journal import Journal, read_events


def test_progress_line_is_redrawn_on_a_terminal(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    builds = make_series(tmp_path, 24, culprit=13)
    args = bisect_args(*scripted, builds, tmp_path / "out", "--seed", "3", "--endpoint-runs", "2")
    child = pexpect.spawn(sys.executable, ["-m", "harness.cli", *args], cwd=str(REPO), encoding="utf-8", timeout=120)
    child.expect(
        re.compile(r"\r\x1b\[Kbisect \[bayes\] round \d+ \| (top build-\d+ [\d.]+, mass left [\d.]+|[^|]+) \| ")
    )
    child.expect(r"boots \d+ done, \d running \| \d+ s \| (~\d+ boots left|estimating)")
    child.expect("first bad build: build-013")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    text = child.before or ""
    assert "verified: " in text and "the answer held" in text


def test_one_line_per_decision_when_not_a_terminal(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    builds = make_series(tmp_path, 24, culprit=13)
    done = hartbeat(*bisect_args(*scripted, builds, tmp_path / "out", "--seed", "3", "--endpoint-runs", "2"))
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr
    rounds = [line for line in done.stderr.splitlines() if re.search(r"round \d+: build-\d+ (hung|passed)", line)]
    assert len(rounds) >= 4
    assert re.search(r"verify: build-013 hung again .*build-012 passed 1 of 1 boots: the answer held", done.stderr)


def test_answer_fields(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    builds = make_series(tmp_path, 24, culprit=13)
    out = tmp_path / "out"
    done = hartbeat(*bisect_args(*scripted, builds, out, "--seed", "3", "--endpoint-runs", "2"))
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "bisect.json").read_text())
    assert (result["first_bad"], result["last_good"], result["strategy"]) == ("build-013", "build-012", "bayes")
    hung, passed = Path(result["culprit"]["console_log"]), Path(result["last_good_run"]["console_log"])
    assert hung.parent.parent.name == "build-013" and "tm_msg 0x11b" in hung.read_text()
    assert passed.parent.parent.name == "build-012" and "login:" in passed.read_text()
    assert len(result["last_line_times"]) == len(result["last_lines"]) >= 3
    assert result["last_line_times"] == sorted(result["last_line_times"])
    assert result["verified"] is True and result["verify_boots"] == 2
    assert result["subject"] is None and result["next_steps"] == [
        f"hartbeat compare {result['last_good_run']['run']} {result['culprit']['run']}"
    ]
    assert f"hang:   {hung}" in done.stdout and f"passed: {passed}" in done.stdout
    assert re.search(r"\| \[\s*\d+\.\d{3}\] tm_msg 0x11b", done.stdout)
    assert f"(run {result['culprit']['run']})" in done.stdout


def late_hang(builds: Path, build: int) -> None:
    """Make ``build`` pass on its first boot and hang on every later one (a counter beside the script)."""
    script = builds / f"build-{build:03d}" / "script"
    lines = script.read_text().splitlines()
    counter = 'n=$(cat "$(dirname "$0")/boots" 2>/dev/null || echo 0); echo $((n + 1)) > "$(dirname "$0")/boots"'
    lines[3:3] = [counter, f'if [ "$n" -ge 1 ]; then {HANG}; fi']
    script.write_text("\n".join(lines) + "\n")


def run(tmp_path: Path, scripted: tuple[Path, Path], strategy: str) -> tuple[int, dict[str, Any], str]:
    builds = make_series(tmp_path, 8, culprit=5)
    late_hang(builds, 4)
    out = tmp_path / "out"
    extra = ("--seed", "2", "--endpoint-runs", "2", "--strategy", strategy)
    done = hartbeat(*bisect_args(*scripted, builds, out, *extra))
    return done.returncode, json.loads((out / "bisect.json").read_text()), done.stdout + done.stderr


def test_repeat_answer_that_does_not_hold_is_inconclusive(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    # build-004 passed once (deterministic: good), then hangs when verified: the answer is wrong.
    code, result, _output = run(tmp_path, scripted, "repeat")
    assert code == 1 and result["status"] == "inconclusive" and result["verified"] is False
    assert "the answer did not hold" in result["reason"] and "build-004 failed on boot 1" in result["reason"]


def test_bayes_searches_on_when_verification_fails(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    code, result, output = run(tmp_path, scripted, "bayes")
    assert "verification failed, searching on: " in output
    assert code == 0 and (result["first_bad"], result["last_good"]) == ("build-004", "build-003")
    assert result["verified"] is True


def test_replay_table_from_a_log(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "bisect.log")
    journal.write("start", names=["b0", "b1"], seed=1)
    for index, name, kind in ((0, "b0", "pass"), (1, "b1", "wedge")):
        journal.write("build", index=index, build=name, key="k")
        verdict = {"kind": kind, "reason": ""}
        journal.write(
            "run",
            index=index,
            build=name,
            key="k",
            attempt=1,
            seed=1,
            phase="endpoint",
            seconds=1.5,
            out_dir="x",
            outcome="good",
            verdict=verdict,
        )
        journal.write(
            "decision",
            index=index,
            build=name,
            state="good" if kind == "pass" else "bad",
            passes=1,
            runs=1,
            seconds=1.5,
            reason="",
            key="k",
            cached_from=None,
        )
    journal.close()
    rows = rows_from_events(read_events(tmp_path / "bisect.log"))
    assert [(r.name, r.state, r.runs, r.verdicts) for r in rows] == [
        ("b0", "good", 1, "passx1"),
        ("b1", "bad", 1, "wedgex1"),
    ]
    assert "no-op change" in rows[1].note
    assert "b1" in table(rows)


def _result_event(status: str) -> dict[str, Any]:
    """A ``result`` event as a finished bisect writes it, with only the fields an answer needs."""
    return {
        "event": "result",
        "status": status,
        "reason": "" if status == "found" else "budget spent",
        "first_bad": "build-013" if status == "found" else None,
        "last_good": "build-012" if status == "found" else None,
        "remaining": [],
        "signature": None,
        "last_lines": [],
        "total_boots": 9,
        "endpoint_boots": 4,
        "candidate_boots": 5,
        "wall_seconds": 1.0,
        "confidence": 0.99,
        "hang_rate": 1.0,
        "deterministic": True,
        "seed": 3,
        "out": "out",
    }


def test_answer_status_read_back_is_the_enum_and_an_unknown_one_is_refused() -> None:
    found = Answer.from_dict(_result_event("found"), ())
    assert found.status is Status.FOUND and found.exit_code == 0
    assert json.loads(json.dumps(found.as_dict()))["status"] == "found"
    inconclusive = Answer.from_dict(_result_event("inconclusive"), ())
    assert inconclusive.status is Status.INCONCLUSIVE and inconclusive.exit_code == 1 and inconclusive.next_steps == ()
    # The bisector turns this ValueError into a ConfigError naming the damaged log.
    with pytest.raises(ValueError, match="'maybe'"):
        Answer.from_dict(_result_event("maybe"), ())
