"""Malformed plans and boards: one line naming file and key, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GOOD_PLAN = """
name = "ok"
[[milestone]]
name = "banner"
expect = 'OpenSBI'
"""
GOOD_BOARD = 'name = "b"\ntarget = "process"\ncommand = ["true"]\n'

PLAN_CASES = [
    ("bad TOML", "name = \n", "plan.toml: not valid TOML"),
    ("unknown key", "silense = '5s'\n" + GOOD_PLAN, "plan.toml: silense: unknown key (did you mean 'silence'?)"),
    ("wrong type", "timeout = true\n" + GOOD_PLAN, "plan.toml: timeout: expected a duration"),
    (
        "bad duration",
        GOOD_PLAN.replace("expect", "within = 'soon'\nexpect"),
        "milestone[0].within: expected a duration",
    ),
    ("bad regex", GOOD_PLAN.replace("'OpenSBI'", "'OpenSBI ('"), "milestone[0].expect: bad regular expression"),
    ("no milestones", 'name = "x"\n', "plan.toml: milestone: no [[milestone]] entries"),
    ("missing expect", '[[milestone]]\nname = "a"\n', "milestone[0].expect: missing; expected a regular expression"),
    ("unknown milestone key", GOOD_PLAN + "sned = 'x'\n", "milestone[0].sned: unknown key (did you mean 'send'?)"),
    ("bad fail", GOOD_PLAN + "[[fail]]\npattern = '('\n", "fail[0].pattern: bad regular expression"),
    ("duplicate", GOOD_PLAN + GOOD_PLAN.replace('name = "ok"', ""), "milestone[1].name: duplicate milestone name"),
    ("send and keys", GOOD_PLAN + "send = 'a'\nkeys = 'b'\n", "milestone[0].keys: give either `send`"),
]

BOARD_CASES = [
    ("bad TOML", "target = [\n", "board.toml: not valid TOML"),
    ("no target", 'name = "b"\n', "board.toml: target: missing; expected a string"),
    ("unknown target", 'target = "jtag"\n', "board.toml: target: unknown target 'jtag'"),
    ("unknown key", GOOD_BOARD + "fallbak = 'x'\n", "board.toml: fallbak: unknown key (did you mean 'fallback'?)"),
    ("bad command", 'target = "process"\ncommand = "semu"\n', "board.toml: command: expected a list of strings"),
    ("bad send_delay", GOOD_BOARD + "send_delay = 'fast'\n", "board.toml: send_delay: expected a duration"),
    ("bad image", GOOD_BOARD + "[images]\nkernel = 3\n", "board.toml: images.kernel: expected a string"),
    ("unknown variable", 'target = "process"\ncommand = ["x", "{kernal}"]\n', "command[1]: unknown variable {kernal}"),
]


def hartbeat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]


@pytest.mark.parametrize(("case", "text", "expected"), PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_malformed_plan(tmp_path: Path, case: str, text: str, expected: str) -> None:
    (tmp_path / "plan.toml").write_text(text)
    (tmp_path / "board.toml").write_text(GOOD_BOARD)
    assert_one_line_error(hartbeat("check", "plan.toml", "--board", "board.toml", cwd=tmp_path), expected)


@pytest.mark.parametrize(("case", "text", "expected"), BOARD_CASES, ids=[c[0] for c in BOARD_CASES])
def test_malformed_board(tmp_path: Path, case: str, text: str, expected: str) -> None:
    (tmp_path / "plan.toml").write_text(GOOD_PLAN)
    (tmp_path / "board.toml").write_text(text)
    proc = hartbeat("run", "plan.toml", "--board", "board.toml", cwd=tmp_path)
    if case == "unknown variable":
        # Variables are expanded when the target is built, which `run` does and `check` may not.
        assert proc.returncode == 2 and expected in proc.stderr and "Traceback" not in proc.stderr
        return
    assert_one_line_error(proc, expected)


def test_missing_files_and_bad_flags(tmp_path: Path) -> None:
    (tmp_path / "board.toml").write_text(GOOD_BOARD)
    assert_one_line_error(hartbeat("check", "nope.toml", "--board", "board.toml", cwd=tmp_path), "nope.toml: no such")
    (tmp_path / "plan.toml").write_text(GOOD_PLAN)
    assert_one_line_error(hartbeat("check", "plan.toml", "--board", "no-such-board", cwd=tmp_path), "no board of that")
    assert_one_line_error(
        hartbeat("check", "plan.toml", "--board", "board.toml", "--set", "novalue", cwd=tmp_path),
        "--set: novalue: expected KEY=VALUE",
    )


def test_missing_image_is_reported_by_check_and_skipped_by_run(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(GOOD_PLAN)
    (tmp_path / "board.toml").write_text(GOOD_BOARD + '[images]\nkernel = "build/Image"\n')
    check = hartbeat("check", "plan.toml", "--board", "board.toml", cwd=tmp_path)
    assert check.returncode == 2
    # A relative image path in a profile is relative to the profile's folder.
    missing = tmp_path / "build" / "Image"
    assert f"board.toml: images.kernel: {missing} does not exist; build it or pass --image kernel=PATH" in check.stdout
    run = hartbeat("run", "plan.toml", "--board", "board.toml", "--out", "out", cwd=tmp_path)
    assert run.returncode == 125, run.stdout + run.stderr
    assert "SKIP" in run.stdout
    assert (tmp_path / "out" / "report.json").is_file()
