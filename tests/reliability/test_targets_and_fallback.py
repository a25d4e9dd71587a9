"""Process cwd (case 11), fallback checks (15), config holes (19), unreachable consoles and the
fallback's transparency (which board really ran, and --no-fallback / fallback = false)."""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .helpers import hartbeat, report, write

ROOT = Path(__file__).resolve().parents[2]
PLAN = """
[[milestone]]
name = "banner"
expect = 'hello'
within = "20s"
"""
PRINTS_HELLO = f'target = "process"\ncommand = ["{sys.executable}", "-c", "print(\'hello\')"]\n'
POWER = '[power]\nbackend = "command"\non = ["true"]\noff = ["true"]\noff_time = "0s"\n'


def one_line_error(proc, *expected: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    text = proc.stdout + proc.stderr
    for item in expected:
        assert item in text, text
    return text


def test_cwd_that_does_not_exist_is_a_check_error_and_never_forks_into_hartbeat(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", PRINTS_HELLO + 'cwd = "/nonexistent"\n')
    plan = write(tmp_path / "plan.toml", PLAN)
    one_line_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "cwd", "/nonexistent")
    # The runner on its own (no pre-boot check): an error verdict, no traceback in the log.
    from harness.model.plan import load_plan
    from harness.run.board_loader import load_board
    from harness.run.runner import Runner
    from harness.run.setup import prepare

    result = Runner(prepare(load_plan(plan), load_board(str(board))), out_dir=tmp_path / "run").run()
    assert result.verdict.kind.value == "error" and "/nonexistent" in result.verdict.reason
    assert "Traceback" not in (tmp_path / "run" / "console.log").read_text()


def test_cwd_of_the_wrong_type_fails_check(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", PRINTS_HELLO + "cwd = 5\n")
    plan = write(tmp_path / "plan.toml", PLAN)
    one_line_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "board.toml: cwd")


def test_command_on_a_qemu_board_is_an_unknown_key(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", 'target = "qemu"\ncommand = ["x"]\n[qemu]\nmachine = "virt"\n')
    plan = write(tmp_path / "plan.toml", PLAN)
    one_line_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "command: unknown key")


def test_qemu_with_no_cpus_fails_check(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", 'target = "qemu"\n[qemu]\nmachine = "virt"\nsmp = 0\n')
    plan = write(tmp_path / "plan.toml", PLAN)
    one_line_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "qemu.smp")


def test_an_empty_image_is_refused(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", PRINTS_HELLO + '[images]\nkernel = "none"\n')
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("check", str(plan), "--board", str(board), "--image", "kernel=", cwd=tmp_path)
    one_line_error(proc, "--image", "kernel")


def test_a_symlink_loop_image_is_an_error_not_a_missing_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    board = write(tmp_path / "board.toml", PRINTS_HELLO + f'[images]\nkernel = "{loop}"\n')
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    one_line_error(proc, "symlink loop")


def test_a_reused_out_folder_is_refused(tmp_path: Path) -> None:
    board = write(tmp_path / "board.toml", PRINTS_HELLO)
    plan = write(tmp_path / "plan.toml", PLAN)
    first = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = (tmp_path / "run" / "report.json").read_text()
    one_line_error(hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path), "already holds")
    assert (tmp_path / "run" / "report.json").read_text() == before


def missing_port_board(tmp_path: Path, fallback: str = "") -> Path:
    return write(
        tmp_path / "lab.toml",
        f'name = "lab"\ntarget = "serial"\n{fallback}\n[serial]\nport = "/dev/ttyNOPE7"\n' + POWER,
    )


def test_a_typo_in_fallback_fails_check(tmp_path: Path) -> None:
    board = missing_port_board(tmp_path, 'fallback = "qemu-sifive-uu"')
    plan = write(tmp_path / "plan.toml", PLAN)
    one_line_error(hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path), "fallback", "qemu-sifive-uu")


def test_an_image_the_fallback_cannot_take_fails_check() -> None:
    proc = hartbeat("check", "uboot-smoke", "--board", "unmatched", "--image", "linux=README.md", cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "fallback" in proc.stdout and "linux" in proc.stdout, proc.stdout


def test_the_fallback_keeps_overrides_and_says_which_board_ran(tmp_path: Path) -> None:
    fallback = write(tmp_path / "fb.toml", 'name = "fb"\n' + PRINTS_HELLO)
    board = missing_port_board(tmp_path, f'fallback = "{fallback}"')
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat(
        "run", str(plan), "--board", str(board), "--set", "time_scale=5", "--set", "serial.baudrate=9600",
        "--out", "run", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("plan: PASS on fb, fallback for lab: ") and "/dev/ttyNOPE7" in first, first
    data = report(tmp_path / "run")
    assert data["ran_on"] == first.removeprefix("plan: ")
    assert data["fallback_for"]["board"] == "lab" and "/dev/ttyNOPE7" in data["fallback_for"]["reason"]
    # `--set time_scale=5` followed the run to the fallback: 20 s became 100 s.
    assert data["plan"]["silence"] == pytest.approx(75.0)
    suite = ET.parse(tmp_path / "run" / "junit.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["board"] == "fb" and properties["fallback_for"] == "lab"
    assert "/dev/ttyNOPE7" in properties["fallback_reason"]


@pytest.mark.parametrize("how", ["--no-fallback", "fallback = false"])
def test_no_fallback_makes_a_missing_board_a_skip(tmp_path: Path, how: str) -> None:
    fallback = write(tmp_path / "fb.toml", 'name = "fb"\n' + PRINTS_HELLO)
    plan = write(tmp_path / "plan.toml", PLAN)
    if how == "--no-fallback":
        board = missing_port_board(tmp_path, f'fallback = "{fallback}"')
        args = ["--no-fallback"]
    else:
        board = missing_port_board(tmp_path, "fallback = false")
        args = []
    proc = hartbeat("run", str(plan), "--board", str(board), *args, "--out", "run", cwd=tmp_path)
    assert proc.returncode == 125, proc.stdout + proc.stderr
    assert json.loads((tmp_path / "run" / "report.json").read_text())["board"]["name"] == "lab"


def test_an_unreachable_network_console_is_a_skip(tmp_path: Path) -> None:
    board = write(
        tmp_path / "net.toml", 'name = "net"\ntarget = "serial"\n[serial]\nport = "rfc2217://127.0.0.1:1"\n' + POWER
    )
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 125, proc.stdout + proc.stderr
    assert "cannot open console rfc2217://127.0.0.1:1" in proc.stdout


def test_a_run_that_fell_back_says_so_everywhere_and_can_exit_as_a_skip(tmp_path: Path) -> None:
    # Issue 24, item 6: a mistyped port ran the plan on the fallback and went green unnoticed.
    fallback = write(tmp_path / "fb.toml", 'name = "fb"\n' + PRINTS_HELLO)
    board = missing_port_board(tmp_path, f'fallback = "{fallback}"\nfallback_exit = "skip"')
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run", cwd=tmp_path)
    assert proc.returncode == 125, proc.stdout + proc.stderr
    assert 'exit 125: passed on fallback board fb, not on lab (its fallback_exit = "skip")' in proc.stdout
    data = report(tmp_path / "run")
    assert data["exit_code"] == 125 and data["fallback_exit"] == "skip" and data["verdict"]["kind"] == "pass"
    suite = ET.parse(tmp_path / "run" / "junit.xml").getroot()
    case = next(suite.iter("testcase"))
    assert case.get("name") == "plan [on fallback fb]" and suite.get("skipped") == "1"
    skipped = case.find("skipped")
    assert skipped is not None and "passed on fallback board fb, not on lab" in (skipped.get("message") or "")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["fallback"] == "fb" and properties["fallback_for"] == "lab"
    page = (tmp_path / "run" / "report.html").read_text()
    banner = page.index('id="fallback"')
    assert banner < page.index('id="verdict"'), "the banner comes first"
    assert "FALLBACK: this ran on fb, not on lab: " in page and "counts as a skip (exit 125)" in page
    # Without fallback_exit the pass exits 0, and still says where it ran.
    board = missing_port_board(tmp_path, f'fallback = "{fallback}"')
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", "run2", cwd=tmp_path)
    assert proc.returncode == 0 and report(tmp_path / "run2")["exit_code"] == 0
    assert next(ET.parse(tmp_path / "run2" / "junit.xml").getroot().iter("testcase")).get("name") == (
        "plan [on fallback fb]"
    )
    assert "FALLBACK: this ran on fb, not on lab: " in (tmp_path / "run2" / "report.html").read_text()
    bad = missing_port_board(tmp_path, f'fallback = "{fallback}"\nfallback_exit = "never"')
    one_line_error(hartbeat("check", str(plan), "--board", str(bad), cwd=tmp_path), "fallback_exit", "never")
