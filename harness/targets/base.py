"""What every target offers the runner: power, a console transport, a description.

A board on a serial port, QEMU and the in-repo emulator all implement :class:`Target`, so the
runner, the verdicts and the reports cannot tell them apart.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from harness.console import Transport


@runtime_checkable
class Target(Protocol):
    """Anything with power and a console.

    The runner opens :meth:`console` *before* :meth:`power_on` so the first bytes a board prints
    are never lost, and always calls :meth:`power_off`, which must be safe to call twice.
    """

    name: str

    def check_available(self) -> None:
        """Raise :class:`harness.errors.TargetUnavailable` when the hardware or program is absent.

        Called before anything is switched on, so a board profile can fall back to another.
        """

    def console(self) -> Transport:
        """The console transport; valid from before power-on until power-off."""

    def power_on(self) -> None:
        """Start the target (spawn the process, switch the plug on)."""

    def power_off(self) -> None:
        """Stop the target and release what it holds."""

    def describe(self) -> dict[str, Any]:
        """What ran, for the report: kind, command line or port, versions."""
