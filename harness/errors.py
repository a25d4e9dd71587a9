"""Exceptions of the harness.

Every error a user can cause carries what to fix: the file, the key and what was expected. The
CLI prints ``str(error)`` on one line and exits 2 (configuration) or 125 (cannot test).
"""

from __future__ import annotations

from pathlib import Path


class HartbeatError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(HartbeatError):
    """A plan, board profile or command-line value is malformed.

    The message names the file, the key and what was expected, e.g.
    ``testplans/x.toml: milestone[2].within: expected a duration like "30s", got 'soon'``.
    """

    def __init__(self, source: str | Path, key: str, problem: str) -> None:
        self.source = str(source)
        self.key = key
        self.problem = problem
        where = f"{self.source}: {key}" if key else self.source
        super().__init__(f"{where}: {problem}")


class TargetUnavailable(HartbeatError):
    """The target cannot be used at all (binary, port or image missing): the run is a ``skip``.

    A board profile with a ``fallback`` switches to it on this error.
    """


class TargetError(HartbeatError):
    """The target broke while in use (process died, port vanished): the run is an ``error``."""


class TransportClosed(TargetError):
    """The console reached end of file: the process exited or the connection closed."""


class PowerError(TargetError):
    """A power backend failed; the message names the backend and its reply."""


class BoardLocked(HartbeatError):
    """Another run holds the board; the message names the holder."""


class OutputError(HartbeatError):
    """The run folder cannot be created or written (read-only, full, a file in the way)."""
