"""Bisect over fast scripted series: deterministic, flaky, unrelated panics, no-op builds, usage."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scripted_series import HANG, make_series, write_plan_and_board

from conftest import bisect_args, hartbeat

Bisect = Callable[..., tuple[int, dict[str, Any]]]


def test_deterministic_hang_in_log2_candidate_boots(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect
) -> None:
    builds = make_series(tmp_path, 32, culprit=19)
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "1")
    assert code == 0
    assert (result["first_bad"], result["last_good"]) == ("build-019", "build-018")
    assert result["candidate_boots"] <= math.ceil(math.log2(32))
    assert result["signature"] == "wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN exec level#.sh"
    assert result["last_lines"][-1].startswith("tm_msg 0x11b")
    assert result["confidence"] == 1.0 and result["deterministic"]


def test_unrelated_panic_builds_are_skipped(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 32, culprit=21, panics=range(12, 18))
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "2", "--endpoint-runs", "2")
    assert code == 0 and result["first_bad"] == "build-021"
    states = {row["name"]: row for row in result["rows"]}
    skipped = [name for name, row in states.items() if row["state"] == "skip"]
    assert skipped and all(12 <= int(name[-3:]) < 18 for name in skipped)
    assert all("panic" in states[name]["note"] for name in skipped)


def test_skips_next_to_the_culprit_are_inconclusive(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect
) -> None:
    builds = make_series(tmp_path, 16, culprit=8, panics=range(6, 9))
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "3", "--endpoint-runs", "2")
    assert code == 1 and result["status"] == "inconclusive"
    assert result["remaining"] == ["build-006", "build-007", "build-008", "build-009"]


def test_identical_builds_are_not_rerun(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 16, culprit=9, noops=range(2, 9))
    extra = ("--seed", "4", "--endpoint-runs", "2", "--strategy", "repeat")
    code, result = bisect(*scripted, builds, tmp_path / "out", *extra)
    assert code == 0 and result["first_bad"] == "build-009"
    rows = {row["name"]: row for row in result["rows"]}
    assert "no-op change" in rows["build-008"]["note"]
    cached = [row for row in rows.values() if "same artefacts as" in row["note"] and row["runs"] == 0]
    assert cached, "a candidate equal to a build already decided must come from the cache"


def test_bayes_never_blames_a_no_op_build(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    # Builds 2..8 are byte-identical to build 1: none of them can be the first bad build, so the
    # posterior puts no mass on them and three boots (plus endpoints and verify) settle it.
    builds = make_series(tmp_path, 16, culprit=9, noops=range(2, 9))
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "4", "--endpoint-runs", "2")
    assert code == 0 and (result["first_bad"], result["strategy"]) == ("build-009", "bayes")
    assert result["candidate_boots"] <= 3
    rows = {row["name"]: row for row in result["rows"]}
    assert "no-op change" in rows["build-008"]["note"]


def test_flaky_hang_found_in_20_of_20_trials(tmp_path: Path) -> None:
    plan, board = write_plan_and_board(tmp_path, silence=0.5)
    builds = make_series(tmp_path, 8, culprit=5, hang_percent=30)

    def trial(seed: int) -> dict[str, Any]:
        out = tmp_path / f"trial-{seed}"
        extra = ("--seed", str(seed), "--miss", "0.005", "--endpoint-runs", "8")
        done = hartbeat(*bisect_args(plan, board, builds, out, *extra), timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads((out / "bisect.json").read_text())

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(trial, range(1, 21)))
    found = [r["first_bad"] for r in results]
    confidences = [r["confidence"] for r in results]
    print("confidences", confidences, "boots", [r["total_boots"] for r in results])
    assert found == ["build-005"] * 20
    assert min(confidences) >= 0.95
    assert all(not r["deterministic"] for r in results)


# The bad endpoint fails two ways: a wedge after its banner (25 % of seeds, say a boot the
# host held off) and the hang being bisected (50 %).
TWO_WAYS = f"""#!/bin/sh
echo 'SIM v7'
if [ $(( $1 % 100 )) -lt 25 ]; then exec sleep 3600; fi
echo 'fs-qrv: mounted qrvfs at /usr'
if [ $(( $1 % 100 )) -lt 75 ]; then {HANG}; fi
printf 'login: '
exec sleep 3600
"""


def test_a_tie_between_the_bad_endpoints_failures_is_broken_by_more_boots(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect
) -> None:
    # With seed 38 its two endpoint runs fail once each way. A tie is no most frequent failure:
    # it boots on until one leads (before, it took the first, the banner wedge, and the bisect
    # called every real hang "another failure" and ended inconclusive).
    builds = make_series(tmp_path, 8, culprit=5, hang_percent=50)
    (builds / "build-007" / "script").write_text(TWO_WAYS, encoding="utf-8")
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "38", "--endpoint-runs", "2")
    assert (code, result["first_bad"]) == (0, "build-005"), result.get("reason")
    assert result["signature"] == "wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN exec level#.sh"
    endpoint = next(row for row in result["rows"] if row["name"] == "build-007")
    assert endpoint["runs"] > 2, endpoint


def test_three_jobs_find_the_same_culprit(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 32, culprit=5)
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "5", "--jobs", "3")
    assert code == 0 and result["first_bad"] == "build-005"
    run_folders = list((tmp_path / "out" / "runs").glob("*/*"))
    assert len(run_folders) == result["total_boots"]


def test_bad_if_wedge_without_endpoint_checks(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 16, culprit=3)
    code, result = bisect(*scripted, builds, tmp_path / "out", "--bad-if", "wedge", "--no-check-endpoints")
    assert code == 0 and result["first_bad"] == "build-003" and result["endpoint_boots"] == 0


def test_good_endpoint_that_hangs_is_inconclusive(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 8, culprit=0)
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "6", "--endpoint-runs", "2")
    assert code == 1 and "good endpoint build-000 is not good" in result["reason"]


def test_usage_errors_are_one_line_exit_2(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    plan, board = scripted
    for args in (
        ["bisect", str(plan), "--board", str(board)],
        ["bisect", str(plan), "--board", str(board), "--builds", str(tmp_path / "nope")],
        ["bisect", str(plan), "--board", str(board), "--builds", str(tmp_path), "--miss", "2"],
        ["bisect", "--replay", str(tmp_path / "missing.log")],
    ):
        done = hartbeat(*args)
        assert done.returncode == 2, done
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_replay_prints_the_table(tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect) -> None:
    builds = make_series(tmp_path, 8, culprit=4)
    out = tmp_path / "out"
    bisect(*scripted, builds, out, "--seed", "8", "--endpoint-runs", "2")
    done = hartbeat("bisect", "--replay", str(out / "bisect.log"))
    assert done.returncode == 0
    assert "build-004" in done.stdout and "first bad build: build-004" in done.stdout


def _runs(out: Path, phase: str) -> list[tuple[float, float, int]]:
    """The (start, end, build index) of every run of a phase, from the bisect's log."""
    events = [json.loads(line) for line in (out / "bisect.log").read_text().splitlines()]
    runs = [e for e in events if e["event"] == "run" and e["phase"] == phase]
    return [(e["at"] - e["seconds"], e["at"], e["index"]) for e in runs]


def _most_at_once(runs: list[tuple[float, float, int]]) -> int:
    return max(sum(1 for s, e, _ in runs if s <= start < e) for start, _end, _ in runs)


def test_three_jobs_use_every_board_for_endpoints_and_verify(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect
) -> None:
    # Deterministic: the good endpoint's boot takes the board the bad endpoint's second batch
    # (5 runs on 3 boards) leaves idle, instead of a round of its own.
    builds = make_series(tmp_path, 16, culprit=9)
    code, result = bisect(*scripted, builds, tmp_path / "out", "--seed", "7", "--jobs", "3", "--endpoint-runs", "5")
    assert code == 0 and result["first_bad"] == "build-009"
    endpoint = _runs(tmp_path / "out", "endpoint")
    good = [run for run in endpoint if run[2] == 0]
    bad = [run for run in endpoint if run[2] == 15]
    assert len(good) == 1 and len(bad) == 5
    assert any(s < good[0][1] and good[0][0] < e for s, e, _ in bad), "the good endpoint ran alone"
    # Flaky: the verify step boots the last good build many times; they spread over the boards.
    (tmp_path / "flaky").mkdir()
    plan, board = write_plan_and_board(tmp_path / "flaky", silence=0.5)
    flaky = make_series(tmp_path / "flaky", 8, culprit=5, hang_percent=30)
    out = tmp_path / "flaky-out"
    extra = ("--seed", "3", "--jobs", "3", "--endpoint-runs", "8")
    done = hartbeat(*bisect_args(plan, board, flaky, out, *extra), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "bisect.json").read_text())
    verify = _runs(out, "verify")
    assert result["first_bad"] == "build-005" and result["verified"] is True
    # The last good build's passes during the search count toward verification (issue 24), so
    # how many boots the verify step adds depends on how often the search happened to boot it:
    # the note counts both, its new boots are the verify runs, and at least one is new.
    events = [json.loads(line) for line in (out / "bisect.log").read_text().splitlines()]
    passed_before = sum(1 for e in events if e["event"] == "run" and e["index"] == 4 and e["phase"] != "verify")
    note = re.search(r"build-004 passed (\d+) of \1 boots(?:, (\d+) of them before verifying)?", result["verify_note"])
    assert note is not None, result["verify_note"]
    total, before = int(note[1]), int(note[2] or 0)
    new_boots = sum(1 for _s, _e, index in verify if index == 4)
    assert new_boots >= 1 and total == before + new_boots and before <= passed_before, result["verify_note"]
    # Every board is used at once by the flaky bisect's boots (search and verify together).
    searched = [run for phase in ("endpoint", "candidate", "verify") for run in _runs(out, phase)]
    assert _most_at_once(searched) == 3


def test_passes_seen_count_toward_verification(tmp_path: Path, bisect: Bisect) -> None:
    # Issue 24, item 5: the last good build's passes during the search count toward the
    # verify step's runs instead of being booted again on top.
    plan, board = write_plan_and_board(tmp_path, silence=0.5)
    builds = make_series(tmp_path, 8, culprit=5, hang_percent=30)
    out = tmp_path / "out"
    code, result = bisect(plan, board, builds, out, "--seed", "3", "--endpoint-runs", "4", "--jobs", "2")
    assert code == 0 and result["first_bad"] == "build-005", result.get("reason")
    events = [json.loads(line) for line in (out / "bisect.log").read_text().splitlines()]
    runs = [e for e in events if e["event"] == "run" and e["build"] == "build-004"]
    searched = [e for e in runs if e["phase"] != "verify"]
    verified = [e for e in runs if e["phase"] == "verify"]
    wanted = re.search(
        r"build-004 passed (\d+) of \1 boots(?:, (\d+) of them before verifying)?", result["verify_note"]
    )
    assert wanted is not None, result["verify_note"]
    # Every pass counts, but one verify boot is always new.
    assert int(wanted.group(2) or 0) == min(len(searched), int(wanted.group(1)) - 1)
    assert len(verified) == int(wanted.group(1)) - int(wanted.group(2) or 0)
    rows = {row["name"]: row for row in result["rows"]}
    assert len(verified) + len(searched) == rows["build-004"]["runs"]


def test_the_bad_endpoint_is_booted_at_most_endpoint_max_times(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Bisect
) -> None:
    # Issue 24, item 5: a bad endpoint that does not fail is booted on, but never past the bound.
    builds = make_series(tmp_path, 6, culprit=99)
    extra = ("--seed", "1", "--endpoint-runs", "2", "--endpoint-max", "3", "--jobs", "2")
    code, result = bisect(*scripted, builds, tmp_path / "out", *extra)
    assert code == 1 and result["endpoint_boots"] == 3, result
    assert "did not fail in 3 runs (--endpoint-runs 2, --endpoint-max 3)" in result["reason"]
