"""The harness's own errors (harness/errors.py): a configuration error names file, key and problem."""

from __future__ import annotations

from pathlib import Path

from harness.errors import (
    BoardLocked,
    ConfigError,
    HartbeatError,
    OutputError,
    PowerError,
    TargetError,
    TargetUnavailable,
    TransportClosed,
)


def test_a_config_error_is_one_line_naming_file_and_key() -> None:
    error = ConfigError(Path("testplans/x.toml"), "milestone[2].within", "expected a duration like \"30s\", got 'soon'")
    assert str(error) == "testplans/x.toml: milestone[2].within: expected a duration like \"30s\", got 'soon'"
    assert (error.source, error.key) == ("testplans/x.toml", "milestone[2].within")
    assert str(ConfigError("b.toml", "", "file not found")) == "b.toml: file not found"


def test_every_error_is_a_hartbeat_error_and_power_and_eof_are_target_errors() -> None:
    for kind in (ConfigError, TargetUnavailable, TargetError, BoardLocked, OutputError):
        assert issubclass(kind, HartbeatError)
    assert issubclass(PowerError, TargetError) and issubclass(TransportClosed, TargetError)
    assert not issubclass(TargetUnavailable, TargetError)  # a skip, not an error verdict
