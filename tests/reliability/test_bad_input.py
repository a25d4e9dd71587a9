"""Bad numbers (case 2), inputs that used to raise tracebacks (13), shell quoting (12), brace escape (14)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.power import power_from_board
from harness.run.board_loader import load_board

from .helpers import hartbeat, write

PLAN = """
[[milestone]]
name = "banner"
expect = 'hello'
"""
BOARD = f'name = "b"\ntarget = "process"\ncommand = ["{sys.executable}", "-c", "print(\'hello\')"]\n'


def assert_config_error(proc, *expected: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize(
    ("plan_text", "key"),
    [
        (PLAN + "within = nan\n", "milestone[0].within"),
        (PLAN + "within = inf\n", "milestone[0].within"),
        (PLAN + "within = 1e300\n", "milestone[0].within"),
        ("silence = nan\n" + PLAN, "silence"),
        ("timeout = -inf\n" + PLAN, "timeout"),
        (PLAN + "[[fail]]\npattern = 'x'\nafter = nan\n", "fail[0].after"),
    ],
)
def test_plan_numbers_must_be_finite(tmp_path: Path, plan_text: str, key: str) -> None:
    plan = write(tmp_path / "plan.toml", plan_text)
    board = write(tmp_path / "board.toml", BOARD)
    assert_config_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "plan.toml", key)


@pytest.mark.parametrize(
    ("board_extra", "overrides", "key"),
    [
        ("time_scale = nan\n", (), "time_scale"),
        ("", ("--set", "time_scale=nan"), "time_scale"),
        ("", ("--set", "time_scale=inf"), "time_scale"),
        ("time_scale = 1e12\n", (), "time_scale"),
        ("send_delay = nan\n", (), "send_delay"),
        ("send_delay = 1e300\n", (), "send_delay"),
        ("", ("--set", "send_delay=inf"), "send_delay"),
    ],
)
def test_board_numbers_must_be_finite(tmp_path: Path, board_extra: str, overrides: tuple[str, ...], key: str) -> None:
    plan = write(tmp_path / "plan.toml", PLAN)
    board = write(tmp_path / "board.toml", BOARD + board_extra)
    proc = hartbeat("check", str(plan), "--board", str(board), *overrides, cwd=tmp_path)
    assert_config_error(proc, "board.toml", key)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('name = "\xff\xfe"\n'.encode("latin-1"), "not UTF-8"),
        (b"[[milestone]]\nname = 'a'\nexpect = 'a{9999999999}'\n", "milestone[0].expect"),
        (b"[[milestone]]\nname = 'a'\nexpect = '" + b"(" * 5000 + b"a" + b")" * 5000 + b"'\n", "milestone[0].expect"),
        (b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
    ],
    ids=["not-utf8", "huge-repeat", "deep-parens", "deep-arrays"],
)
def test_malformed_plans_are_one_line_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_bytes(content)
    board = write(tmp_path / "board.toml", BOARD)
    assert_config_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "plan.toml", expected)


START = {"event": "start", "version": 1, "names": ["a", "b"], "plan": "p.toml", "seed": 7}


@pytest.mark.parametrize(
    "damage",
    [
        b"[1, 2, 3]\n",
        json.dumps({"event": "run", "build": "a", "verdict": {"kind": "pass"}, "seconds": 1}).encode() + b"\n",
        b"\xff\xfe\x00binary\n",
    ],
    ids=["array-line", "run-without-index", "binary"],
)
@pytest.mark.parametrize("mode", ["--replay", "--resume"])
def test_damaged_bisect_log_is_an_error_not_a_traceback(tmp_path: Path, damage: bytes, mode: str) -> None:
    out = tmp_path / "bisect"
    out.mkdir()
    (out / "bisect.log").write_bytes(json.dumps(START).encode() + b"\n" + damage + b'{"event": "signature"}\n')
    if mode == "--replay":
        args = ["bisect", "--replay", str(out / "bisect.log")]
    else:
        builds = tmp_path / "builds"
        for name in ("a", "b"):
            (builds / name).mkdir(parents=True)
        plan = write(tmp_path / "plan.toml", PLAN)
        board = write(tmp_path / "board.toml", BOARD)
        args = ["bisect", str(plan), "--board", str(board), "--builds", str(builds), "--resume", "--out", str(out)]
    proc = hartbeat(*args, cwd=tmp_path)
    assert_config_error(proc, "bisect.log", "line")


def test_start_without_seed_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "bisect.log"
    log.write_text(json.dumps({"event": "start", "names": []}) + "\n")
    assert_config_error(hartbeat("bisect", "--replay", str(log), cwd=tmp_path), "bisect.log", "line 1", "seed")


def test_shell_power_command_quotes_substituted_values(tmp_path: Path, monkeypatch) -> None:
    """`--image 'kernel=x;touch PWNED'` must not run `touch PWNED` through `shell = true`."""
    monkeypatch.chdir(tmp_path)
    seen = tmp_path / "seen"
    board_file = write(
        tmp_path / "board.toml",
        f"""
        name = "b"
        target = "serial"
        [serial]
        port = "/dev/ttyUSB1"
        [images]
        kernel = "none"
        [power]
        backend = "command"
        shell = true
        on = "printf '%s' {{kernel}} > {seen}"
        off = "true"
        """,
    )
    board = load_board(str(board_file), images=[("kernel", "x;touch PWNED")])
    power_from_board(board).switch.on()
    assert not (tmp_path / "PWNED").exists()
    assert seen.read_text().endswith("x;touch PWNED")


def test_dollar_brace_escape_sends_a_literal_uboot_variable(tmp_path: Path, program_board) -> None:
    board = program_board(
        """
        import sys
        print("=> ", end="", flush=True)
        line = sys.stdin.readline()
        print("got:" + line.strip(), flush=True)
        """,
        extra='newline = "\\n"\n',
    )
    plan = write(
        tmp_path / "plan.toml",
        """
        [[milestone]]
        name = "prompt"
        expect = '=> $'
        [[milestone]]
        name = "literal"
        send = 'echo $${bootargs} {{x}}'
        expect = '^got:echo \\$\\{bootargs\\} \\{x\\}$'
        within = "20s"
        """,
    )
    check = hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
