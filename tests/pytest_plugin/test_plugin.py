"""The pytest plugin (harness/pytest_plugin/__init__.py): every shipped plan an item on a real QEMU board,
JUnit naming each plan, and a failing plan reported with its verdict."""

from __future__ import annotations

from pathlib import Path

from harness.model.plan import load_plan
from harness.pytest_plugin import worst_host_scale
from harness.run.board_loader import load_board
from harness.targets import host_time_scale
from tests.pytest_plugin.qemu_pytest import NEEDS_QEMU, ROOT, run_pytest

pytestmark = NEEDS_QEMU


def test_pytest_plugin_runs_plans_and_writes_junit(tmp_path: Path) -> None:
    xml = tmp_path / "out.xml"
    proc = run_pytest(tmp_path, "testplans/", "--board", "qemu-virt", f"--junitxml={xml}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = xml.read_text()
    for plan in (ROOT / "testplans").glob("*.toml"):
        if "[[milestone]]" in plan.read_text():
            assert f'name="{load_plan(plan).name}"' in text


def test_pytest_plugin_reports_a_failing_plan_with_its_verdict(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "wedge.toml").write_text(
        'name = "never-login"\nsilence = "2s"\n[[milestone]]\nname = "opensbi"\nexpect = "OpenSBI"\n'
        '[[milestone]]\nname = "login"\nexpect = "login: $"\nwithin = "60s"\n'
    )
    proc = run_pytest(tmp_path, str(plans), "--board", "qemu-virt")
    assert proc.returncode == 1
    # Autoboot keeps U-Boot talking (bus scans, network retries) then it waits at the prompt: a wedge.
    assert "never-login on qemu-virt: WEDGE" in proc.stdout
    assert "signature: wedge|opensbi|" in proc.stdout


def test_an_item_timeout_allows_for_the_host_time_of_the_board_that_may_run_it() -> None:
    # qemu-sifive-u-sd without QEMU runs on the emulator's card chain, judged in guest seconds:
    # a plan second may take the emulator's slowdown in host time there (the run folder's note).
    emulator = host_time_scale(load_board("emulator-unmatched-sd"))
    assert emulator > 1
    assert worst_host_scale(load_board("qemu-sifive-u-sd")) == emulator
    # The real Unmatched falls back to QEMU: neither stretches a plan second.
    assert worst_host_scale(load_board("unmatched")) == 1
