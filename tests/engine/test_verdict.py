"""verdict.judge on recorded outcomes: no console, no target, only the outcome and its evidence."""

from __future__ import annotations

import re

from harness.engine.console import Closed, Matched, Quiet, TimedOut, Watch
from harness.engine.verdict import Evidence, Kind, Step, judge
from harness.engine.watch_kind import WatchKind

STEP = Step(milestone="linux", reached="uboot", started=10.0, within=30.0, plan_timeout=120.0)
LINES = ((10.5, "Starting kernel ..."), (10.6, ""))


def matched(kind: WatchKind, name: str, pattern: str, line: str) -> Matched:
    watch = Watch(name, kind, re.compile(pattern))
    match = watch.regex.search(line)
    assert match is not None
    return Matched(watch, match, line, 11.0)


def test_a_fail_watch_is_a_panic_naming_the_pattern_and_its_reason() -> None:
    outcome = matched(
        WatchKind.FAIL,
        "kernel-panic",
        r"Kernel panic - not syncing: (?P<reason>.*)",
        "Kernel panic - not syncing: boom",
    )
    verdict = judge(outcome, STEP, Evidence(at=11.0, lines=LINES))
    assert verdict.kind is Kind.PANIC
    assert verdict.reason.startswith("kernel-panic: boom after milestone `uboot`, while waiting for `linux`")
    assert verdict.key_line == "Kernel panic - not syncing: boom" and verdict.captures == {"reason": "boom"}


def test_silence_is_a_wedge_and_output_past_the_deadline_a_stall() -> None:
    wedge = judge(Quiet(quiet_for=5.0, t=15.0), STEP, Evidence(at=15.0, lines=LINES, quiet=5.0))
    assert wedge.kind is Kind.WEDGE and wedge.key_line == "Starting kernel ..."
    assert wedge.signature == "wedge|uboot|Starting kernel ..."
    # A deadline with no byte during the whole step is a wedge too.
    assert judge(TimedOut(t=40.0), STEP, Evidence(at=40.0, lines=LINES, quiet=30.0)).kind is Kind.WEDGE
    stall = judge(TimedOut(t=40.0), STEP, Evidence(at=40.0, lines=LINES, quiet=0.1))
    assert stall.kind is Kind.STALL and "its 30 s deadline" in stall.reason
    late = judge(TimedOut(t=120.0), STEP, Evidence(at=120.0, lines=LINES, quiet=0.1))
    assert "the plan timeout" in late.reason


def test_reset_prompt_and_closed_outcomes() -> None:
    reset = judge(matched(WatchKind.RESET, "reset:OpenSBI", "OpenSBI v", "OpenSBI v1.2"), STEP, Evidence(at=11.0))
    assert reset.kind is Kind.RESET and "the boot banner came back" in reset.reason
    check = Step(milestone="version", reached="prompt", expect="U-Boot 20")
    failed = judge(matched(WatchKind.PROMPT, "version:prompt", "=> $", "=> "), check, Evidence(at=11.0))
    assert failed.kind is Kind.FAIL and "/U-Boot 20/" in failed.reason
    ended = judge(Closed("qemu exited with status 1", 11.0), STEP, Evidence(at=11.0, lines=LINES))
    assert ended.kind is Kind.ERROR and ended.reason.endswith("qemu exited with status 1")
