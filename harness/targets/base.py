"""What every target offers the runner (power, a console transport, a description), and what a kind is.

A board on a serial port, QEMU and the in-repo emulator all implement :class:`Target`, so the
runner, the verdicts and the reports cannot tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from harness.engine.console import Transport
from harness.model.board import Board
from harness.model.preboot_finding import Finding


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


@runtime_checkable
class EndsOnGuestOff(Protocol):
    """A target that can end itself as soon as its guest says it is powering off.

    A plan's ``off`` step types the off command and waits for the target to exit. A guest prints
    ``guest_off`` once it is committed (U-Boot's ``poweroff ...`` comes 100 ms before it asks the
    firmware); :meth:`end_guest_off` then ends the target at once, as cleanly as the guest's own
    power-off would (QEMU quits through QMP: it closes and flushes every drive before it exits).
    The console's closing is still what the step waits for and records.
    """

    guest_off: re.Pattern[str]

    def end_guest_off(self) -> None:
        """End the target now; it exits (its console closes) once its drives are flushed."""


# The lines a guest prints once it is committed to powering off: U-Boot's `poweroff` command (it
# then waits 100 ms before it asks the firmware) and Linux's kernel_power_off (printed after its
# devices are shut down, right before the firmware call); printk may stamp it with the time.
GUEST_POWER_OFF = r"poweroff \.\.\.|reboot: Power down"
# ...and to resetting (U-Boot's `reset`, Linux's restart).
GUEST_RESET = r"resetting \.\.\.|reboot: Restarting system"


def guest_off_lines(*, reset: bool) -> re.Pattern[str]:
    """The :attr:`EndsOnGuestOff.guest_off` pattern: the power-off lines, and the reset lines too
    for a target that a guest's reset ends (QEMU under ``-no-reboot``)."""
    lines = GUEST_POWER_OFF + (f"|{GUEST_RESET}" if reset else "")
    return re.compile(rf"^(?:\[\s*\d+\.\d+\] )?(?:{lines})\s*$", re.MULTILINE)


def no_preflight(_board: Board, _variables: Mapping[str, str]) -> list[Finding]:
    """A kind with no checks of its own before boot."""
    return []


@dataclass(frozen=True)
class TargetKind:
    """One kind of target, as the registry in :mod:`harness.targets` knows it.

    ``validate`` checks a board's own section(s) and returns the top-level keys it used;
    ``build`` makes the target for a run (with the run's variables); ``preflight`` lists what
    is wrong before boot; ``copies`` is how many targets of one profile can run at once (``None``:
    as many as the machine holds, e.g. processes; 1: one physical board or place); ``expand``
    turns a profile that stands for several boards (a labgrid place pattern) into one profile
    each, for bisect's parallel boards; ``time_scale`` gives the board's ``time_scale`` as this
    kind will run it; ``host_scale`` is, for a kind judged on its guest clock, how many host
    seconds one second of a plan may take at most (a bound for timeouts outside the console, such
    as a pytest item's).
    ``switched_off``: a plan's ``off`` step is hartbeat switching the target off through its power
    backend (a board on a bench, whose firmware cannot power it off), not a command typed at it.
    """

    name: str
    validate: Callable[[Board], set[str]]
    build: Callable[[Board, Mapping[str, str]], Target]
    preflight: Callable[[Board, Mapping[str, str]], list[Finding]] = no_preflight
    copies: int | None = 1
    expand: Callable[[Board], tuple[Board, ...]] | None = None
    time_scale: Callable[[Board], float] | None = None
    host_scale: Callable[[Board], float] | None = None
    switched_off: bool = False
