"""Bisect across the lab: every labgrid place matching a pattern is a parallel board.

Two virtual boards on two exporters boot whatever kernel is in their TFTP folder; the bisect
deploys each build there by SFTP (a throw-away sshd), acquires a place per run and releases it.
The same 32-build qsoe series is bisected with one place and with both, timed in the same test.
Their consoles have no port while the board is off (ser2net refuses them until power-on) and
are exported as raw TCP: over RFC2217, ser2net sometimes completes the telnet negotiation for a
device it then cannot open and keeps the client connected to nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import KEY_PASSPHRASE, write
from .labgrid_lab import LabBoard, LabgridCoordinator, tool
from .virtual import QEMU, Sshd, missing_tools

pytest.importorskip("labgrid", reason="the labgrid extra is not installed")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MAKE_SERIES = ROOT / "images" / "qsoe-sim" / "make_series.py"
PLACES = ("qsoe-1", "qsoe-2")


def profile(folder: Path, coordinator: LabgridCoordinator, sshd: Sshd, place: str) -> Path:
    login = f"""
        host = "127.0.0.1"
        port = {sshd.port}
        user = "{sshd.user}"
        key_file = "{sshd.user_key}"
        password_env = "LAB_KEY_PASSPHRASE"
        known_hosts = "{sshd.known_hosts}"
        """
    return write(
        folder / f"qsoe-lab-{place.replace('*', 'all')}.toml",
        f"""
        name = "{place.replace("*", "lab")}"
        target = "labgrid"

        [images]
        kernel = "qsoe.elf"

        [labgrid]
        place = "{place}"
        coordinator = "{coordinator.address}"
        wait = "60s"
        off_time = "0.1s"
        reopen_timeout = "10s"

        [deploy]
        {login}
        dest = "{folder}/tftp/{{board}}"
        """,
    )


def bisect(profile_path: Path, series: Path, out: Path) -> tuple[float, dict[str, object], str]:
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable, "-m", "harness.cli", "bisect", "qsoe-boot", "--board", str(profile_path),
            "--builds", str(series), "--artifact", "kernel=qsoe.elf", "--out", str(out),
            "--seed", "11", "--endpoint-runs", "3",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed, json.loads((out / "bisect.json").read_text()), done.stdout + done.stderr


def test_bisect_over_two_places_on_two_exporters_finds_the_culprit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = missing_tools(QEMU, "ser2net", "riscv64-unknown-elf-gcc", "/usr/sbin/sshd", tool("labgrid-coordinator"))
    if missing or not MAKE_SERIES.exists():
        pytest.skip(f"needs {', '.join(missing) or MAKE_SERIES}")
    monkeypatch.setenv("LAB_KEY_PASSPHRASE", KEY_PASSPHRASE)
    series = tmp_path / "series"
    subprocess.run(
        [sys.executable, str(MAKE_SERIES), "--folder", str(series), "--count", "32", "--culprit", "19",
         "--fault", "wedge"],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp_path / "sshd").mkdir()
    sshd = Sshd(tmp_path / "sshd", passphrase=KEY_PASSPHRASE)
    coordinator = LabgridCoordinator(tmp_path / "coordinator")
    boards: list[LabBoard] = []
    try:
        for place, exporter in ((PLACES[0], "lab-host-a"), (PLACES[1], "lab-host-b")):
            board = LabBoard(tmp_path / place, raw=True, boots_from=tmp_path / "tftp" / place / "qsoe.elf")
            boards.append(board)
            coordinator.export(exporter, {place: board.resources()})
            coordinator.add_place(place, f"{exporter}/{place}/*", {"board": "qsoe"})

        one, one_result, _ = bisect(profile(tmp_path, coordinator, sshd, PLACES[0]), series, tmp_path / "one")
        boots_one = [board.board.boots for board in boards]
        two, two_result, output = bisect(profile(tmp_path, coordinator, sshd, "qsoe-*"), series, tmp_path / "two")
        boots_two = [after - before for after, before in zip((b.board.boots for b in boards), boots_one, strict=True)]
        # Every run acquired its place and released it again.
        assert [coordinator.holder(place) for place in PLACES] == [None, None]
    finally:
        coordinator.close()
        for board in boards:
            board.close()
        sshd.close()

    for result in (one_result, two_result):
        assert (result["first_bad"], result["last_good"]) == ("build-019", "build-018"), result
    assert "2 target(s)" in output, output
    assert boots_one[1] == 0, "the one-place bisect must not touch the second place"
    assert all(boots > 0 for boots in boots_two), f"both places must boot builds: {boots_two}"
    print(f"\nbisect over 32 builds: one place {one:.1f} s, two places {two:.1f} s, ratio {two / one:.2f}; "
          f"boots per place {boots_two}")  # fmt: skip
    assert boots_one[0] + sum(boots_two) <= 40, "a bisect of 32 builds must not boot every build"
