"""The ``console`` fixture (harness/pytest_plugin/live_console.py) on a real QEMU board: commands with
their output and status, and a failed assert recorded as a failed session, not a pass."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pytest_plugin.qemu_pytest import NEEDS_QEMU, ROOT, run_pytest

pytestmark = NEEDS_QEMU


def test_console_fixture_runs_commands_and_reports_failed_asserts(tmp_path: Path) -> None:
    test_file = tmp_path / "test_uboot_console.py"
    test_file.write_text(
        "def test_commands(console, target):\n"
        "    console.expect_milestone(r'Hit any key to stop autoboot', 'autoboot', within=30)\n"
        "    console.expect_milestone(r'=> $', 'prompt', send='')\n"
        "    ok = console.run('echo hello-from-pytest')\n"
        "    assert ok.status == 0 and ok.output == 'hello-from-pytest', ok\n"
        "    assert console.run('false').status == 1\n"
        "    assert target.describe()['kind'] == 'qemu'\n"
        "\n"
        "def test_a_failing_assert(console):\n"
        "    console.expect_milestone(r'OpenSBI v', 'opensbi', within=30)\n"
        "    assert 1 == 2\n"
    )
    proc = run_pytest(
        tmp_path, str(test_file), "--board", "qemu-virt", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout
    verdicts = {
        json.loads(path.read_text())["plan"]["name"]: json.loads(path.read_text())["verdict"]
        for path in (tmp_path / "runs").glob("*/report.json")
    }
    assert verdicts["test_commands"]["kind"] == "pass"
    # A failed assert is not a pass in the session's report, even though the console was fine.
    assert verdicts["test_a_failing_assert"]["kind"] == "fail"
    assert verdicts["test_a_failing_assert"]["milestone"] == "opensbi"
