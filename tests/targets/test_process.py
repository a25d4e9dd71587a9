"""The ``process`` target kind (harness/targets/process.py): a board's command line with its
optional groups, what is checked before boot, and a program's console from power-on to power-off.
Third-party emulators as process boards, booting Linux, are tests/linux/test_linux_process_boards.py's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError, TargetUnavailable, TransportClosed
from harness.model.board import Board
from harness.model.preboot_finding import Level
from harness.targets.process import KIND, ProcessTarget


def board(command: list, *, images: dict[str, str] | None = None, **settings: object) -> Board:
    return Board(
        name="semu",
        path=Path("/lab/semu.toml"),
        target="process",
        images=images or {},
        variables={"mem": "512"},
        settings={"command": command, **settings},
    )


def test_optional_groups_are_dropped_whole_when_their_slot_is_empty() -> None:
    command = ["semu", "-m", "{mem}", ["-k", "{kernel}"], ["-i", "{initrd}"], ["-a", "{append}"]]
    b = board(command, images={"kernel": "/i/Image", "initrd": "none"}, append="console={tty}")
    target = KIND.build(b, {"tty": "ttyS0"})
    assert target.describe()["command"] == "semu -m 512 -k /i/Image -a console=ttyS0"


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"command": "semu -k x"}, "command", "expected a list of strings"),
        ({"command": []}, "command", "expected a list of strings"),
        ({"command": [["-k", "x"]]}, "command", "expected a list of strings"),
        ({"command": ["semu"], "cwd": ""}, "cwd", "expected a folder path string"),
        ({"command": ["semu"], "machine": "vax"}, "machine", "expected one of virt, unmatched, got 'vax'"),
        ({"command": ["semu"], "uart": 0}, "uart", "expected a string, got 0"),
    ],
)
def test_a_bad_process_board_names_the_key(settings: dict, key: str, words: str) -> None:
    b = Board(name="semu", path=Path("/lab/semu.toml"), target="process", settings=settings)
    with pytest.raises(ConfigError) as error:
        KIND.validate(b)
    assert str(error.value).startswith(f"/lab/semu.toml: {key}: ") and words in str(error.value)


def test_before_boot_a_missing_program_and_folder_are_named(tmp_path: Path) -> None:
    found = [str(f) for f in KIND.preflight(board(["no-such-emulator"], cwd=str(tmp_path / "gone")), {})]
    assert found == [
        "error: /lab/semu.toml: command[0]: program 'no-such-emulator' is not installed (not on PATH)",
        f"error: /lab/semu.toml: cwd: {tmp_path / 'gone'} is not a folder; create it or fix `cwd`",
    ]
    spare = Board(
        name="semu", path=Path("/lab/semu.toml"), target="process", fallback="qemu-virt", settings={"command": ["nope"]}
    )
    assert [f.level for f in KIND.preflight(spare, {})] == [Level.WARNING]  # the run falls back instead
    assert KIND.preflight(board([sys.executable, "-c", "pass"]), {}) == []


def test_a_program_that_is_not_there_is_unavailable() -> None:
    with pytest.raises(TargetUnavailable, match=r"semu: program 'no-such-emulator' not found"):
        ProcessTarget("semu", ["no-such-emulator"]).check_available()
    with pytest.raises(TargetUnavailable, match="empty command line"):
        ProcessTarget("semu", [])


def test_the_console_runs_from_power_on_to_power_off(tmp_path: Path) -> None:
    script = "import sys; print('hello from', sys.argv[1], flush=True); print('typed', input(), flush=True); input()"
    target = ProcessTarget("py", [sys.executable, "-c", script, "board"], cwd=tmp_path)
    console = target.console()
    target.power_on()
    try:
        console.write(b"ping\n")  # a raw terminal: the program sees the newline as typed
        seen = b""
        while b"typed ping" not in seen:
            chunk = console.read(4096, 30.0)
            assert chunk, seen
            seen += chunk
        assert b"hello from board" in seen and target.pid is not None
    finally:
        target.power_off()
    target.power_off()  # twice is safe
    with pytest.raises(TransportClosed):
        while console.read(4096, 5.0):
            pass
