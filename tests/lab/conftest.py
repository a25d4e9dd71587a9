"""Fixtures of the virtual lab: a QEMU board behind an HTTP switch, ser2net, sshd, board files."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.model.plan import load_plan
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare

from .virtual import OPENSBI, QEMU, UBOOT, PowerSwitchServer, Ser2net, Sshd, VirtualBoard, missing_tools

# Short enough to keep the lab quick, long enough for QEMU to start on a loaded 2-core runner.
OFF_TIME = "0.2s"
REOPEN_TIMEOUT = "3s"
PLUG_PASSWORD = "plug-pw-9f2c41d7"
KEY_PASSPHRASE = "key-pass-5be0a3e8"

UBOOT_PLAN = """
name = "lab-uboot-smoke"
silence = "10s"
timeout = "60s"

[[milestone]]
name = "opensbi"
expect = 'OpenSBI v(?P<opensbi>[0-9.]+)'
within = "20s"

[[milestone]]
name = "uboot"
expect = '^U-Boot (?P<uboot>20\\d\\d\\.\\d\\d\\S*)'
within = "20s"

[[milestone]]
name = "autoboot"
expect = 'Hit any key to stop autoboot'
within = "20s"

[[milestone]]
name = "prompt"
keys = " "
expect = '=> $'
within = "10s"

[[milestone]]
name = "version"
send = "version"
expect = '^U-Boot (?P<version>20\\d\\d\\.\\d\\d\\S*)'
prompt = '=> $'
within = "10s"

[[milestone]]
name = "echo"
send = "echo hartbeat-lab-marker"
expect = '^hartbeat-lab-marker$'
prompt = '=> $'
within = "10s"
"""


def write(path: Path, text: str) -> Path:
    """Write dedented text and return the path."""
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@dataclass
class Lab:
    """One test's lab: the board, its switch, and where files go."""

    folder: Path
    board: VirtualBoard
    switch: PowerSwitchServer

    def board_file(self, *, port: str | None = None, power: str | None = None, extra: str = "") -> Path:
        """A serial board profile for the lab; ``power`` replaces the HTTP ``[power]`` table."""
        power_table = (
            power
            or f"""
            [power]
            backend = "http"
            on = "{self.switch.url("Power On")}"
            off = "{self.switch.url("Power Off")}"
            user = "admin"
            password_env = "LAB_PLUG_PASSWORD"
            expect_body = '"POWER"'
            off_time = "{OFF_TIME}"
            timeout = "5s"
            """
        )
        text = f"""
            name = "lab-board"
            target = "serial"
            send_delay = "2ms"

            [serial]
            port = "{port or self.board.port}"
            baudrate = 115200
            reopen_timeout = "{REOPEN_TIMEOUT}"
            """
        return write(self.folder / "lab-board.toml", textwrap.dedent(text) + textwrap.dedent(power_table) + extra)

    def run(self, board_path: Path, plan_text: str = UBOOT_PLAN, **kwargs: object) -> RunResult:
        """Run a plan on a board file through the real runner; the run folder is ``folder/run``."""
        plan = load_plan(write(self.folder / "plan.toml", plan_text))
        return Runner(prepare(plan, load_board(str(board_path))), out_dir=self.folder / "run", **kwargs).run()


@pytest.fixture(autouse=True)
def lab_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locks in the test's folder; the plug's password in the environment, as a lab would."""
    monkeypatch.setenv("HARTBEAT_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("LAB_PLUG_PASSWORD", PLUG_PASSWORD)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A plugged-in, switched-off virtual board behind a password-protected HTTP plug."""
    missing = missing_tools(QEMU, str(OPENSBI), str(UBOOT))
    if missing:
        pytest.skip(f"virtual lab needs {', '.join(missing)} (Debian: qemu-system-misc opensbi u-boot-qemu)")
    with switched_lab(tmp_path, VirtualBoard(tmp_path)) as lab:
        yield lab


@contextlib.contextmanager
def switched_lab(folder: Path, board: VirtualBoard) -> Iterator[Lab]:
    """``board`` plugged in behind the lab's password-protected HTTP plug; both closed after."""
    board.plug_in()
    switch = PowerSwitchServer(board, password=PLUG_PASSWORD)
    try:
        yield Lab(folder, board, switch)
    finally:
        switch.close()
        board.close()


@pytest.fixture
def sdcard_lab(tmp_path: Path, unleashed_card: Path) -> Iterator[Lab]:
    """The lab's board as a HiFive booting from an SD card (QEMU sifive_u), behind the same plug."""
    missing = missing_tools(QEMU)
    if missing:
        pytest.skip(f"virtual lab needs {', '.join(missing)} (Debian: qemu-system-misc)")
    with switched_lab(tmp_path, VirtualBoard(tmp_path, sdcard=unleashed_card)) as lab:
        yield lab


@pytest.fixture
def ser2net(lab: Lab) -> Iterator[Ser2net]:
    """ser2net exporting the lab board's console as RFC2217 on loopback."""
    missing = missing_tools("ser2net")
    if missing:
        pytest.skip("RFC2217 lab needs ser2net (Debian: ser2net)")
    server = Ser2net(lab.board.port, lab.folder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A throw-away sshd on loopback; its user key is encrypted with a passphrase."""
    missing = missing_tools("/usr/sbin/sshd", "ssh-keygen")
    if missing:
        pytest.skip(f"SSH lab needs {', '.join(missing)} (Debian: openssh-server openssh-client)")
    folder = tmp_path / "sshd"
    folder.mkdir()
    server = Sshd(folder, passphrase=KEY_PASSPHRASE)
    try:
        yield server
    finally:
        server.close()
