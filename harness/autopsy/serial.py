"""The ``serial`` board's autopsy: not yet possible.

A real HiFive Unmatched exposes its harts through JTAG (FT2232 channel A, beside the console);
reading them needs OpenOCD and a ``[jtag]`` section in the board profile, which the serial
target does not have yet. Until then every autopsy of a serial board says why it is missing.
"""

from __future__ import annotations

from harness.autopsy.backend import AutopsyBackend, AutopsyUnavailable, Probe, Request


def open_probe(request: Request) -> Probe:
    """Always unavailable: a board without a ``[jtag]`` section cannot be inspected."""
    if "jtag" not in request.board.settings:
        raise AutopsyUnavailable("no [jtag] section")
    raise AutopsyUnavailable("the [jtag] section is not supported yet (no OpenOCD backend)")


BACKEND = AutopsyBackend(name="serial", open=open_probe)
