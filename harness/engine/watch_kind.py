"""What a watch is for: the one spelling the runner, the console and the verdict compare."""

from __future__ import annotations

from enum import StrEnum


class WatchKind(StrEnum):
    """Why the runner watches a pattern, which decides what a match means.

    A string enum: its value is what a ``Watch``'s key names (``expect pattern of `x```) and
    what a caller that still spells the kind as text compares equal to.
    """

    EXPECT = "expect"  # the milestone's line: a match reaches it
    PROMPT = "prompt"  # a prompt typed into; back without the expect, a check failed
    FAIL = "fail"  # a `[[fail]]` pattern: the run ends as the pattern's kind
    RESET = "reset"  # the boot banner again after a later milestone: the board reset
    OFF = "off"  # the guest's power-off line in an `off` step: the target may end itself now
