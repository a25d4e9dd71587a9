"""The serial board's ``[jtag]`` section, and what the OpenOCD backend says when OpenOCD cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.autopsy.model import AutopsySettings
from harness.errors import ConfigError
from harness.model.board import Board
from harness.probes.take import take_autopsy
from harness.targets.fake import FakeTarget
from harness.targets.openocd import DEFAULT_GDB_PORT, jtag_settings
from harness.targets.serial import preflight

FAST = AutopsySettings(samples=1, span=0.0, limit=5.0)


def board(jtag: object, folder: Path = Path("/lab/boards")) -> Board:
    return Board(name="unmatched", path=folder / "unmatched.toml", target="serial", settings={"jtag": jtag})


def test_a_config_is_read_relative_to_the_board_file_with_its_variables() -> None:
    settings = jtag_settings(board({"config": "openocd/unmatched.cfg", "set": {"HARTS": 5, "IDCODE": "0x20000913"}}))
    assert settings is not None
    assert settings.config == Path("/lab/boards/openocd/unmatched.cfg")
    assert settings.tcl is None and settings.gdb_port == DEFAULT_GDB_PORT
    assert dict(settings.variables) == {"HARTS": "5", "IDCODE": "0x20000913"}


def test_a_running_openocd_is_named_by_its_tcl_address() -> None:
    settings = jtag_settings(board({"tcl": "labhost:6666", "gdb_port": 4444}))
    assert settings is not None and settings.tcl == ("labhost", 6666) and settings.config is None
    assert settings.gdb_port == 4444


def test_no_section_is_none() -> None:
    assert jtag_settings(Board(name="b", path=Path("b.toml"), target="serial")) is None


@pytest.mark.parametrize(
    ("jtag", "message"),
    [
        ({}, "/lab/boards/unmatched.toml: jtag.config: expected exactly one of config"),
        ({"config": "a.cfg", "tcl": "h:1"}, "jtag.config: expected exactly one of config"),
        ({"tcl": "labhost"}, "jtag.tcl: expected host:port of OpenOCD's Tcl server"),
        ({"tcl": "labhost:99999"}, "jtag.tcl: expected host:port"),
        ({"config": "a.cfg", "gdb_port": 0}, "jtag.gdb_port: expected a TCP port 1-65535, got 0"),
        ({"config": "a.cfg", "set": {"HARTS": [5]}}, "jtag.set.HARTS: expected a string or an integer"),
        ({"config": "a.cfg", "adapter": "ftdi"}, "jtag.adapter: unknown key"),
    ],
)
def test_bad_jtag_values_are_one_line_naming_file_and_key(jtag: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        jtag_settings(board(jtag))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_openocd_missing_is_an_unavailable_autopsy_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "x.cfg"
    config.write_text("")
    autopsy = take_autopsy(FakeTarget(), board({"config": str(config), "openocd": str(tmp_path / "no-openocd")}), FAST)
    summary = autopsy.diagnosis.summary
    assert summary.startswith("autopsy unavailable: openocd: cannot run ") and "not found" in summary, summary
    assert autopsy.duration < 5.0


def test_an_unreachable_running_openocd_says_where_it_looked() -> None:
    autopsy = take_autopsy(FakeTarget(), board({"tcl": "127.0.0.1:1"}), FAST)
    assert autopsy.diagnosis.summary.startswith("autopsy unavailable: openocd: Tcl port 127.0.0.1:1: ")


def test_check_warns_about_a_missing_openocd_config(tmp_path: Path) -> None:
    profile = Board(
        name="unmatched",
        path=tmp_path / "unmatched.toml",
        target="serial",
        settings={"serial": {"port": str(tmp_path)}, "jtag": {"config": "openocd/missing.cfg"}},
    )
    findings = preflight(profile, {})
    assert [(f.key, f.message) for f in findings] == [
        ("jtag.config", f"{tmp_path / 'openocd' / 'missing.cfg'} does not exist")
    ]
