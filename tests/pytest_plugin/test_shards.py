"""``--hartbeat-boards a,b``: plans dealt to two QEMU boards run at the same time."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("qemu-system-riscv64") is None, reason="needs qemu-system-riscv64"),
]


def lab(tmp_path: Path) -> tuple[Path, list[str]]:
    """Four copies of uboot-smoke and two copies of the qemu-virt profile (two board names)."""
    plans = tmp_path / "plans"
    plans.mkdir()
    smoke = (ROOT / "testplans" / "uboot-smoke.toml").read_text()
    for n in range(1, 5):
        (plans / f"smoke{n}.toml").write_text(smoke.replace('name = "uboot-smoke"', f'name = "smoke{n}"'))
    profile = (ROOT / "boards" / "qemu-virt.toml").read_text()
    boards = []
    for suffix in ("a", "b"):
        path = tmp_path / f"qemu-virt-{suffix}.toml"
        path.write_text(profile.replace('name = "qemu-virt"', f'name = "qemu-virt-{suffix}"'))
        boards.append(str(path))
    return plans, boards


def pytest_on(tmp_path: Path, plans: Path, *board_args: str) -> tuple[subprocess.CompletedProcess[str], Path, float]:
    junit = tmp_path / f"junit-{time.monotonic_ns()}.xml"
    command = [sys.executable, "-m", "pytest", str(plans), "-q", "-p", "no:cacheprovider", "-p", "no:labgrid"]
    command += [*board_args, "--hartbeat-runs", str(tmp_path / "runs"), "--junitxml", str(junit)]
    command += ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    return proc, junit, time.monotonic() - started


def properties(junit: Path) -> dict[str, dict[str, str]]:
    """Each test case's junit properties, by test name."""
    cases = ET.parse(junit).getroot().iter("testcase")
    return {case.attrib["name"]: {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")} for case in cases}


def test_four_plans_on_two_boards_run_two_each_at_the_same_time(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    proc, junit, wall = pytest_on(tmp_path, plans, "--hartbeat-boards", ",".join(boards))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout, proc.stdout
    cases = properties(junit)
    assert sorted(cases) == ["smoke1", "smoke2", "smoke3", "smoke4"]
    assert all(case["verdict"] == "pass" for case in cases.values())
    # Dealt round-robin in collection order: deterministic.
    assert [cases[f"smoke{n}"]["board"] for n in range(1, 5)] == ["qemu-virt-a", "qemu-virt-b"] * 2
    assert Counter(case["board"] for case in cases.values()) == {"qemu-virt-a": 2, "qemu-virt-b": 2}
    own = sum(float(case["duration"]) for case in cases.values())
    # From the first run's start to the last run's end (the reports' own clocks), against the sum
    # of the runs' times: sequential would be at least that sum. Generous bound, loaded machine.
    reports = [json.loads(Path(case["report"]).read_text()) for case in cases.values()]
    starts = [datetime.fromisoformat(report["started"]).timestamp() for report in reports]
    ends = [start + report["duration"] for start, report in zip(starts, reports, strict=True)]
    span = max(ends) - min(starts)
    print(f"2 boards: runs span {span:.1f} s, 4 runs sum {own:.1f} s, ratio {span / own:.2f}; pytest {wall:.1f} s")
    assert span < 0.9 * own, (span, own)


def test_a_plan_for_one_board_only_is_dealt_to_that_board(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    (plans / "smoke3.toml").unlink()
    (plans / "smoke4.toml").unlink()
    # Collected first ("a" < "s"): its turn is board a, but it is written for board b only.
    smoke2 = (plans / "smoke2.toml").read_text().replace('name = "smoke2"', 'name = "only-b"')
    only_b = re.sub(r"^boards = .*$", 'boards = ["*-b"]', smoke2, flags=re.M)
    assert 'boards = ["*-b"]' in only_b
    (plans / "a-only-b.toml").write_text(only_b)
    proc, junit, _ = pytest_on(tmp_path, plans, "--hartbeat-boards", ",".join(boards))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
    cases = properties(junit)
    assert {name: case["board"] for name, case in cases.items()} == {
        "only-b": "qemu-virt-b",
        "smoke1": "qemu-virt-a",
        "smoke2": "qemu-virt-b",
    }


def test_collect_only_boots_nothing(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    proc, _, _ = pytest_on(tmp_path, plans, "--hartbeat-boards", ",".join(boards), "--collect-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 tests collected" in proc.stdout, proc.stdout
    assert not (tmp_path / "runs").exists()


def test_board_and_hartbeat_boards_together_is_a_usage_error(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    proc, _, _ = pytest_on(tmp_path, plans, "--board", "qemu-virt", "--hartbeat-boards", ",".join(boards))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "not both" in proc.stderr


def test_one_board_in_hartbeat_boards_is_a_usage_error(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    proc, _, _ = pytest_on(tmp_path, plans, "--hartbeat-boards", boards[0])
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "two or more different boards" in proc.stderr


CONSOLE_TESTS = """
import pytest


def test_plain(console):
    console.expect_milestone(r"=> $", "prompt", send="")
    assert console.run("version").status == 0


@pytest.mark.hartbeat(state="uboot-shell")
def test_shared(console):
    assert console.run("version").status == 0
"""


def test_console_tests_are_dealt_to_the_boards_next_to_plans(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    (plans / "test_console.py").write_text(CONSOLE_TESTS)
    proc, junit, _ = pytest_on(tmp_path, plans, "--hartbeat-boards", ",".join(boards))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "6 passed" in proc.stdout, proc.stdout
    cases = properties(junit)
    assert Counter(case["board"] for case in cases.values()) == {"qemu-virt-a": 3, "qemu-virt-b": 3}
    assert cases["test_plain"]["board"] != cases["test_shared"]["board"]


HANG = """
name = "{name}"
description = "boots, then waits for a line that never comes"
silence = "200s"
timeout = "5m"

[[milestone]]
name = "opensbi"
expect = 'OpenSBI v'
within = "60s"

[[milestone]]
name = "never"
expect = 'this line never comes'
within = "240s"
"""


def qemu_of(tmp_path: Path) -> list[int]:
    """The QEMU processes still running for this test's run folders."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and b"qemu-system" in cmdline and str(tmp_path).encode() in cmdline:
            found.append(int(proc.name))
    return found


def test_ctrl_c_stops_the_runs_on_every_board(tmp_path: Path) -> None:
    plans, boards = lab(tmp_path)
    for n in range(1, 5):
        (plans / f"smoke{n}.toml").write_text(HANG.format(name=f"hang{n}"))
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "pytest", str(plans), "-q", "-p", "no:cacheprovider", "-p", "no:labgrid"]
    command += ["--hartbeat-boards", ",".join(boards), "--hartbeat-runs", str(runs)]
    command += ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]
    # SIGINT as a terminal would deliver it, even under a runner that ignores it (a background
    # job of a non-interactive shell does, and its children inherit that).
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # Both boards past OpenSBI: two runs on at the same time.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = list(runs.glob("*/console.log")) if runs.exists() else []
            if len([log for log in logs if "OpenSBI v" in log.read_text(errors="replace")]) == 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail("two boards never booted at the same time")
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        output, _ = proc.communicate(timeout=90)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"Ctrl-C with two boards running: pytest ended {stopped_in:.1f} s later")
    assert proc.returncode == 2, output
    assert stopped_in < 60, (stopped_in, output)
    # The two queued runs never started; the two running ones ended and switched their QEMU off.
    folders = list(runs.iterdir())
    assert len(folders) == 2, output
    assert all((folder / "report.json").exists() for folder in folders), output
    assert qemu_of(tmp_path) == []
