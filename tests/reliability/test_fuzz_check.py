"""Generated malformed plans and boards through `hartbeat check`: no traceback, every message
names the file and the key (a fixed seed keeps CI reproducible)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ConfigError

from .helpers import hartbeat

SEED = 20261202
CASES = 520

PLAN_KEYS = ["name", "description", "silence", "timeout", "default_fail", "reset", "variables", "boards"]
MILESTONE_KEYS = ["name", "expect", "within", "send", "keys", "prompt", "silence", "exits", "ssh", "status"]
BOARD_KEYS = ["name", "description", "target", "fallback", "command", "cwd", "newline", "send_delay", "time_scale"]
TARGETS = ["process", "qemu", "emulator", "serial", "labgrid", "jtag", ""]
SECTIONS = {
    "qemu": ["machine", "smp", "memory", "bios", "kernel", "append", "drives", "extra", "binary"],
    "emulator": ["machine", "smp", "memory", "append"],
    "serial": ["port", "baudrate", "reopen_timeout", "lock"],
    "power": ["backend", "on", "off", "shell", "url", "off_time", "timeout"],
    "ssh": ["host", "port", "user", "timeout", "key_file"],
}
REGEX_PIECES = [
    "a",
    "(",
    ")",
    "[",
    "]",
    "+",
    "*",
    "?",
    "{2}",
    "{9999999999}",
    "\\",
    "^",
    "$",
    "(?P<x>",
    "|",
    ".",
    "\\d",
]


def value(rng: random.Random, depth: int = 0) -> Any:
    """A random TOML value: every type, odd numbers, odd strings, nesting."""
    pick = rng.randrange(14)
    if pick == 0:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 1e300, -1.0, 0.0])
    if pick == 1:
        return rng.choice([0, -1, 1, 2**62, 7])
    if pick == 2:
        return rng.choice([True, False])
    if pick == 3:
        return "".join(rng.choice(REGEX_PIECES) for _ in range(rng.randrange(1, 8)))
    if pick == 4:
        return rng.choice(["15s", "soon", "1e3s", "-5s", "nan", "5m", "", "0", "250ms", "{kernel}", "{nope}", "$${x}"])
    if pick == 5 and depth < 3:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 6 and depth < 3:
        return {rng.choice(["a", "kernel", "smp", "x y"]): value(rng, depth + 1) for _ in range(rng.randrange(3))}
    if pick == 7:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 12)))
    if pick == 8:
        return rng.choice(["/nonexistent", "socket://localhost:1", "http://u:p@h/x?pwd=1", "/dev/null"])
    return rng.choice(["ok", "boot", 'quote"d', "x" * 300])


def toml_value(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return {float("inf"): "inf", -float("inf"): "-inf"}.get(item, "nan" if item != item else repr(item))
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(item, list):
        return "[" + ", ".join(toml_value(i) for i in item) + "]"
    return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in item.items()) + "}"


def table(rng: random.Random, keys: list[str], required: dict[str, Any]) -> list[str]:
    lines = [f"{k} = {toml_value(v)}" for k, v in required.items() if rng.random() < 0.85]
    for key in rng.sample(keys, rng.randrange(len(keys) + 1)):
        if key not in required:
            lines.append(f"{key} = {toml_value(value(rng))}")
    if rng.random() < 0.2:
        lines.append(f"{rng.choice(keys)}x = 1")  # a typo
    return lines


def plan_text(rng: random.Random) -> str:
    lines = table(rng, PLAN_KEYS[:6], {})
    for index in range(rng.randrange(4)):
        lines.append("[[milestone]]")
        lines += table(rng, MILESTONE_KEYS, {"name": f"m{index}", "expect": "ok"})
    if rng.random() < 0.3:
        lines += ["[[fail]]", *table(rng, ["name", "pattern", "after"], {"pattern": "x"})]
    return "\n".join(lines) + "\n"


def board_text(rng: random.Random) -> str:
    target = rng.choice(TARGETS)
    lines = table(rng, BOARD_KEYS[3:], {"target": target, "command": [sys.executable, "-c", "pass"]})
    for section, keys in SECTIONS.items():
        if rng.random() < 0.35:
            lines += [f"[{section}]", *table(rng, keys, {})]
    if rng.random() < 0.3:
        lines += ["[images]", f"kernel = {toml_value(value(rng))}"]
    return "\n".join(lines) + "\n"


def encode(rng: random.Random, text: str) -> bytes:
    pick = rng.randrange(10)
    if pick == 0:
        return text.encode("utf-16")
    if pick == 1:
        return text.encode("utf-8") + bytes([0xFF, 0xFE, 0x80])
    if pick == 2:
        return text.encode("utf-8")[: rng.randrange(1, len(text) + 1)]  # cut anywhere
    return text.encode("utf-8")


GOOD_PLAN = '[[milestone]]\nname = "a"\nexpect = "ok"\n'
GOOD_BOARD = f'target = "process"\ncommand = ["{sys.executable}", "-c", "pass"]\n'


def mutated(rng: random.Random) -> tuple[bytes, bytes]:
    """A valid plan and board with one random key added: most get past the parser."""
    plan, board = GOOD_PLAN, GOOD_BOARD
    if rng.random() < 0.5:
        plan += f"{rng.choice(MILESTONE_KEYS[2:])} = {toml_value(value(rng))}\n"
    else:
        board = f"{rng.choice(BOARD_KEYS[3:])} = {toml_value(value(rng))}\n" + board
    return plan.encode(), board.encode()


def generated(count: int) -> list[tuple[bytes, bytes]]:
    rng = random.Random(SEED)
    return [
        mutated(rng) if rng.random() < 0.4 else (encode(rng, plan_text(rng)), encode(rng, board_text(rng)))
        for _ in range(count)
    ]


def test_fuzzed_plans_and_boards_never_raise_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, board = tmp_path / "plan.toml", tmp_path / "board.toml"
    outcomes = {"clean": 0, "findings": 0, "config error": 0}
    for number, (plan_bytes, board_bytes) in enumerate(generated(CASES)):
        plan.write_bytes(plan_bytes)
        board.write_bytes(board_bytes)
        try:
            code = main(["check", str(plan), "--board", str(board)])
        except SystemExit as exc:  # argparse only
            pytest.fail(f"case {number}: exit {exc.code}")
        except Exception as exc:
            pytest.fail(
                f"case {number}: {type(exc).__name__}: {exc}\n--- plan\n{plan_bytes!r}\n--- board\n{board_bytes!r}"
            )
        out, err = capsys.readouterr()
        if code == 2 and err:
            outcomes["config error"] += 1
            line = err.strip()
            assert "\n" not in line, (number, err)
            assert str(plan) in line or str(board) in line or "--" in line, (number, line)
        else:
            outcomes["findings" if "error:" in out or "warning:" in out else "clean"] += 1
            for finding in out.splitlines()[:-1]:
                assert str(plan) in finding or str(board) in finding, (number, finding)
    # The generator reaches every path, not only the parser's errors.
    assert outcomes["config error"] > CASES // 4 and outcomes["clean"] + outcomes["findings"] > 10, outcomes


def test_config_errors_name_a_key_unless_the_whole_file_is_unreadable(tmp_path: Path) -> None:
    from harness.model.plan import load_plan
    from harness.run.board_loader import load_board

    plan, board = tmp_path / "plan.toml", tmp_path / "board.toml"
    for plan_bytes, board_bytes in generated(200):
        plan.write_bytes(plan_bytes)
        board.write_bytes(board_bytes)
        for load in (lambda: load_plan(plan), lambda: load_board(str(board))):
            try:
                load()
            except ConfigError as exc:
                whole_file = any(word in exc.problem for word in ("TOML", "UTF-8", "no [[milestone]]", "nested"))
                assert exc.key or whole_file, str(exc)


def test_a_few_fuzzed_cases_through_the_real_command_line(tmp_path: Path) -> None:
    for number, (plan_bytes, board_bytes) in enumerate(generated(CASES)[:8]):
        (tmp_path / "plan.toml").write_bytes(plan_bytes)
        (tmp_path / "board.toml").write_bytes(board_bytes)
        proc = hartbeat("check", "plan.toml", "--board", "./board.toml", cwd=tmp_path)
        assert "Traceback" not in proc.stderr, (number, proc.stderr)
        assert proc.returncode in (0, 2), (number, proc.stdout, proc.stderr)
