"""The labgrid lab on loopback: a coordinator, two exporters, two places around virtual boards.

Everything is real: labgrid's coordinator and exporters (started here, stopped here), ser2net
(RFC2217 for one board, raw TCP for the other), the boards' plug switched by labgrid's
``shelly_gen1`` power model, QEMU booting U-Boot on a pty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import UBOOT_PLAN, write
from .labgrid_lab import LabBoard, LabgridCoordinator, tool
from .virtual import OPENSBI, QEMU, UBOOT, missing_tools

pytest.importorskip("labgrid", reason="the labgrid extra is not installed")
pytestmark = pytest.mark.slow

PLACES = ("unmatched-1", "unmatched-2")


@dataclass
class GridLab:
    """The lab: its coordinator, and one virtual board per place."""

    folder: Path
    coordinator: LabgridCoordinator
    boards: dict[str, LabBoard]

    def board_file(self, place: str, *, wait: str = "20s", extra: str = "") -> Path:
        """A board profile naming ``place`` on this lab's coordinator."""
        return write(
            self.folder / f"{place}.toml",
            f"""
            name = "lab-{place}"
            target = "labgrid"
            send_delay = "2ms"

            [labgrid]
            place = "{place}"
            coordinator = "{self.coordinator.address}"
            wait = "{wait}"
            off_time = "0.2s"
            reopen_timeout = "5s"
            {extra}
            """,
        )


@pytest.fixture(scope="module")
def lab_grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabgridCoordinator, dict[str, LabBoard]]]:
    """Two boards on two exporters (``lab-host-a``: RFC2217, ``lab-host-b``: raw TCP), two places.

    Started once per module (a coordinator, two exporters and the places take ~15 s here);
    :func:`grid` gives each test the lab back free and switched off.
    """
    missing = missing_tools(QEMU, str(OPENSBI), str(UBOOT), "ser2net", tool("labgrid-coordinator"))
    if missing:
        pytest.skip(
            f"labgrid lab needs {', '.join(missing)} (Debian: qemu-system-misc ser2net; pip: hartbeat[labgrid])"
        )
    folder = tmp_path_factory.mktemp("labgrid")
    boards: dict[str, LabBoard] = {}
    coordinator = LabgridCoordinator(folder / "coordinator")
    try:
        for place, exporter, raw in ((PLACES[0], "lab-host-a", False), (PLACES[1], "lab-host-b", True)):
            boards[place] = LabBoard(folder / place, raw=raw)
            coordinator.export(exporter, {place: boards[place].resources()})
            coordinator.add_place(place, f"{exporter}/{place}/*", {"board": "unmatched"})
        yield coordinator, boards
    finally:
        coordinator.close()
        for board in boards.values():
            board.close()


@pytest.fixture
def grid(lab_grid: tuple[LabgridCoordinator, dict[str, LabBoard]], tmp_path: Path) -> Iterator[GridLab]:
    """The module's lab with every place free and every board off; files go to the test's folder."""
    coordinator, boards = lab_grid
    for board in boards.values():
        board.switch.requests.clear()
        board.board.power_off()
        board.board.plug_in()
    yield GridLab(tmp_path, coordinator, boards)
    for place in boards:
        if coordinator.holder(place) is not None:
            coordinator.client("-p", place, "release", "--kick")


def hartbeat(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    """``hartbeat`` as a child process, as a user types it."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A suite started in the background inherits SIGINT ignored; Ctrl-C must reach hartbeat.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,  # type: ignore[call-overload]
    )


def test_uboot_smoke_on_each_place_and_report_names_the_lab(grid: GridLab) -> None:
    plan = write(grid.folder / "plan.toml", UBOOT_PLAN)
    for place, exporter, protocol in ((PLACES[0], "lab-host-a", "rfc2217"), (PLACES[1], "lab-host-b", "socket")):
        out = grid.folder / f"run-{place}"
        child = hartbeat("run", str(plan), "--board", str(grid.board_file(place)), "--out", str(out))
        output, _ = child.communicate(timeout=180)
        assert child.returncode == 0, output
        report = json.loads((out / "report.json").read_text())
        target = report["target"]
        assert target["place"] == place
        assert target["exporters"] == [exporter]
        assert f"{exporter}/{place}/NetworkSerialPort/NetworkSerialPort" in target["resources"]
        assert target["console"].startswith(f"{protocol}://127.0.0.1:{grid.boards[place].ser2net.port}")
        assert target["power"]["driver"] == "NetworkPowerDriver"
        assert target["power"]["model"] == "shelly_gen1"
        # labgrid's driver switched the plug: Shelly's relay API, not the Tasmota URLs.
        assert any(r.startswith("POST /relay/0") for r in grid.boards[place].switch.requests)
        assert grid.coordinator.holder(place) is None, "the place must be free after the run"


def test_busy_place_is_a_skip_naming_the_holder_within_the_wait(grid: GridLab) -> None:
    grid.coordinator.client("-p", PLACES[0], "acquire", user="alice")
    plan = write(grid.folder / "plan.toml", UBOOT_PLAN)
    out = grid.folder / "run"
    start = time.monotonic()
    child = hartbeat("run", str(plan), "--board", str(grid.board_file(PLACES[0], wait="3s")), "--out", str(out))
    output, _ = child.communicate(timeout=120)
    elapsed = time.monotonic() - start
    assert child.returncode == 125, output
    assert "alice" in output and PLACES[0] in output, output
    assert json.loads((out / "report.json").read_text())["verdict"]["kind"] == "skip"
    # The wait is honoured (3 s) with a generous bound for a loaded machine (process start, gRPC).
    assert 3.0 <= elapsed < 60, elapsed
    assert grid.coordinator.holder(PLACES[0]).endswith("/alice")
    assert not grid.boards[PLACES[0]].switch.requests, "a skipped run must not touch the power"


def test_place_freed_when_the_holder_releases_during_the_wait(grid: GridLab) -> None:
    grid.coordinator.client("-p", PLACES[0], "acquire", user="alice")
    plan = write(grid.folder / "plan.toml", UBOOT_PLAN)
    out = grid.folder / "run"
    child = hartbeat("run", str(plan), "--board", str(grid.board_file(PLACES[0], wait="90s")), "--out", str(out))
    # The run folder exists before the place is asked for: from then on hartbeat is waiting.
    deadline = time.monotonic() + 60
    while not (out / "report.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)
    grid.coordinator.client("-p", PLACES[0], "release", user="alice")
    output, _ = child.communicate(timeout=180)
    assert child.returncode == 0, output
    assert json.loads((out / "report.json").read_text())["target"]["waited"] >= 1.5


def _wait_for_boot(child: subprocess.Popen[str], out: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = out / "console.log"
        if log.exists() and "U-Boot" in log.read_text(errors="replace"):
            return
        if child.poll() is not None:
            # The run ended before the boot: what it printed says why (a lab error, a verdict).
            output, _ = child.communicate()
            raise AssertionError(f"hartbeat exited {child.returncode} before U-Boot's output:\n{output}")
        time.sleep(0.2)
    child.kill()
    output, _ = child.communicate()
    report = out / "report.txt"
    shown = report.read_text(errors="replace") if report.exists() else "(no report)"
    raise AssertionError(f"no U-Boot output in {out} within {timeout} s; hartbeat printed:\n{output}\n{shown}")


HANG_PLAN = (
    UBOOT_PLAN
    + """
[[milestone]]
name = "never"
expect = 'this line never comes'
within = "120s"
silence = "120s"
"""
)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_place_is_free_after_an_interrupt(grid: GridLab, how: str) -> None:
    """Ctrl-C and SIGTERM release at once; after SIGKILL the next hartbeat run releases it."""
    plan = write(grid.folder / "plan.toml", HANG_PLAN.replace('timeout = "60s"', 'timeout = "200s"'))
    board = grid.board_file(PLACES[0])
    out = grid.folder / "run"
    child = hartbeat("run", str(plan), "--board", str(board), "--out", str(out))
    _wait_for_boot(child, out)
    assert grid.coordinator.holder(PLACES[0]) is not None
    os.kill(child.pid, getattr(signal, how))
    output, _ = child.communicate(timeout=60)
    if how != "SIGKILL":
        assert child.returncode == 128 + getattr(signal, how), output
        assert grid.coordinator.holder(PLACES[0]) is None, output
        assert not grid.boards[PLACES[0]].board.running, "the board must be switched off"
        return
    # labgrid keeps an acquisition when its client dies; the next run finds our dead record.
    assert grid.coordinator.holder(PLACES[0]) is not None
    again = grid.folder / "again"
    child = hartbeat(
        "run", str(write(grid.folder / "smoke.toml", UBOOT_PLAN)), "--board", str(board), "--out", str(again)
    )
    output, _ = child.communicate(timeout=180)
    assert child.returncode == 0, output
    log = json.loads((again / "report.json").read_text())["target"]["lab_log"]
    assert any("left acquired by a hartbeat run that is gone" in line for line in log), log
    assert grid.coordinator.holder(PLACES[0]) is None


def test_boards_lists_the_coordinators_places_with_holder_and_resources(grid: GridLab) -> None:
    grid.coordinator.client("-p", PLACES[1], "acquire", user="alice")
    child = hartbeat("boards", "--coordinator", grid.coordinator.address)
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 0, output
    lines = {line.split()[0]: line for line in output.splitlines() if line.startswith("unmatched-")}
    assert set(lines) == set(PLACES), output
    assert " free " in lines[PLACES[0]] and "lab-host-a" in lines[PLACES[0]]
    assert "acquired by" in lines[PLACES[1]] and lines[PLACES[1]].split()[3].endswith("/alice")
    assert f"rfc2217://127.0.0.1:{grid.boards[PLACES[0]].ser2net.port}" in lines[PLACES[0]]
    assert f"raw://127.0.0.1:{grid.boards[PLACES[1]].ser2net.port}" in lines[PLACES[1]]
    assert "shelly_gen1" in lines[PLACES[0]] and "board=unmatched" in lines[PLACES[0]]


def test_an_unreachable_coordinator_is_an_error_naming_it() -> None:
    child = hartbeat("boards", "--coordinator", "127.0.0.1:9")
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 2, output
    assert "127.0.0.1:9" in output and "labgrid-coordinator" in output
    # One line: labgrid's own "ERROR:root:coordinator is unavailable" would only repeat it.
    assert "ERROR:root" not in output and len(output.strip().splitlines()) == 1, output


def test_a_bare_place_runs_without_a_profile_and_a_pattern_is_for_bisect(
    grid: GridLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LG_COORDINATOR", grid.coordinator.address)
    plan = write(grid.folder / "plan.toml", UBOOT_PLAN)
    out = grid.folder / "bare"
    child = hartbeat("run", str(plan), "--board", f"labgrid:{PLACES[1]}", "--set", "send_delay=2ms", "--out", str(out))
    output, _ = child.communicate(timeout=180)
    assert child.returncode == 0, output
    target = json.loads((out / "report.json").read_text())["target"]
    assert (target["place"], target["coordinator"]) == (PLACES[1], grid.coordinator.address)
    child = hartbeat("run", str(plan), "--board", "labgrid:unmatched-*", "--out", str(grid.folder / "pattern"))
    output, _ = child.communicate(timeout=120)
    assert child.returncode == 125, output
    assert "only `hartbeat bisect` expands" in output
