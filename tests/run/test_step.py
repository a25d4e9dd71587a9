"""harness.run.step: a milestone's watches phase by phase, and what the end of a phase means."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.engine.console import Closed, Matched, Outcome, Quiet, TimedOut, Watch
from harness.engine.watch_kind import WatchKind
from harness.model.board import Board
from harness.model.plan import FailPattern, Milestone, Plan
from harness.run.setup import RunSetup, prepare
from harness.run.step import PhaseEnd, phase_end, plan_key, types_next, watches_for

FAIL = FailPattern("kernel-panic", re.compile("Kernel panic"))
BOOT = Milestone(name="boot", expect=re.compile("OpenSBI"), within=5.0)
CHECK = Milestone(name="check", expect=re.compile(r"ok (?P<n>\d+)"), within=5.0, send="run", prompt=re.compile(r"=> $"))
TYPED = Milestone(name="typed", expect=re.compile("done"), within=5.0)
OFF = Milestone(name="off", expect=None, within=5.0, exits=True, off=True)


def _setup(*milestones: Milestone, **variables: str) -> RunSetup:
    plan = Plan(
        name="p",
        path=Path("p.toml"),
        description="",
        silence=1.0,
        timeout=60.0,
        milestones=milestones,
        fails=(FAIL,),
        resets=(re.compile("OpenSBI"),),
    )
    return prepare(plan, Board(name="b", path=Path("b.toml"), target="fake", variables=variables))


def _kinds(phase: tuple[Watch, ...]) -> list[WatchKind]:
    return [watch.kind for watch in phase]


def test_a_check_waits_for_its_line_then_its_prompt_beside_the_fail_watches() -> None:
    setup = _setup(BOOT, CHECK, OFF)
    watches = watches_for(setup, CHECK, resets=False)
    assert [_kinds(phase) for phase in watches.phases] == [
        [WatchKind.FAIL, WatchKind.EXPECT, WatchKind.PROMPT],
        [WatchKind.FAIL, WatchKind.PROMPT],
    ]
    assert not watches.waits_exit and not watches.waiting_exit(1)
    expect = watches.phases[0][1]
    assert expect.key == "p.toml: milestone[1].expect" and expect.settle  # a capture waits for a pause
    assert watches.prompt is not None and watches.prompt.key == "p.toml: milestone[1].prompt"
    assert not watches.prompt.settle  # typed into at once
    fail = watches.phases[0][0]
    assert watches.fails == {fail: FAIL} and fail.key == "p.toml: fail[0].pattern" and not fail.partial
    # After the second milestone a banner again is a reset.
    later = watches_for(setup, CHECK, resets=True)
    assert _kinds(later.phases[0]) == [WatchKind.FAIL, WatchKind.RESET, WatchKind.EXPECT, WatchKind.PROMPT]


def test_an_expect_settles_unless_the_next_step_types_at_once() -> None:
    typing = Milestone(name="next", expect=re.compile("x"), within=1.0, send="go")
    setup = _setup(TYPED, typing)
    assert types_next(setup, TYPED) and not watches_for(setup, TYPED, resets=False).phases[0][-1].settle
    assert not types_next(setup, typing) and watches_for(setup, typing, resets=False).phases[0][-1].settle
    # An `off` step types only on a target that powers itself off.
    assert types_next(_setup(TYPED, OFF), TYPED)
    assert not types_next(_setup(TYPED, OFF, off_command=""), TYPED)


def test_an_off_step_waits_for_the_target_to_end_and_a_test_milestone_is_named_by_name() -> None:
    setup = _setup(BOOT, OFF)
    watches = watches_for(setup, OFF, resets=True)
    assert [_kinds(phase) for phase in watches.phases] == [[WatchKind.FAIL, WatchKind.RESET]]
    assert watches.waits_exit and watches.waiting_exit(0)
    own = Milestone(name="mine", expect=re.compile("x"), within=1.0)
    assert plan_key(setup.scaled_plan, own) == "milestone `mine`"
    assert watches_for(setup, own, resets=False).phases[0][-1].key == "milestone `mine`.expect"


def test_an_off_step_on_a_target_that_ends_at_the_guests_line_watches_for_it_then_for_the_end() -> None:
    setup = _setup(BOOT, OFF)
    line = re.compile(r"^poweroff \.\.\.$", re.MULTILINE)
    watches = watches_for(setup, OFF, resets=True, guest_off=line)
    assert [_kinds(phase) for phase in watches.phases] == [
        [WatchKind.FAIL, WatchKind.RESET, WatchKind.OFF],
        [WatchKind.FAIL, WatchKind.RESET],
    ]
    # Both wait for the exit: no silence counts, and the target may end before its line.
    assert watches.waiting_exit(0) and watches.waiting_exit(1)
    assert watches.phases[0][-1].regex is line and not watches.phases[0][-1].partial
    # Only an `off` step watches for it; a step that merely exits does not.
    exits = Milestone(name="exits", expect=None, within=5.0, exits=True)
    assert len(watches_for(_setup(BOOT, exits), exits, resets=True, guest_off=line).phases) == 1


def _matched(kind: WatchKind) -> Matched:
    watch = Watch("w", kind, re.compile("x"))
    match = watch.regex.search("x")
    assert match is not None
    return Matched(watch, match, "x", 1.0)


@pytest.mark.parametrize(
    ("outcome", "milestone", "first", "waiting_exit", "end"),
    [
        (_matched(WatchKind.EXPECT), CHECK, True, False, PhaseEnd.REACHED),
        (_matched(WatchKind.PROMPT), CHECK, True, False, PhaseEnd.FAILED),  # the prompt before the line
        (_matched(WatchKind.PROMPT), CHECK, False, False, PhaseEnd.NEXT),  # the prompt after it
        (_matched(WatchKind.FAIL), CHECK, True, False, PhaseEnd.FAILED),
        (_matched(WatchKind.RESET), BOOT, True, False, PhaseEnd.FAILED),
        (_matched(WatchKind.OFF), OFF, True, True, PhaseEnd.GUEST_OFF),
        (Closed("exited", 2.0), OFF, True, True, PhaseEnd.EXITED),
        (Closed("exited", 2.0), CHECK, False, True, PhaseEnd.NEXT),  # ended after its line: recorded then
        (Closed("exited", 2.0), BOOT, True, False, PhaseEnd.FAILED),  # ended while a line was due
        (Closed("disk full", 2.0, harness_side=True), OFF, True, True, PhaseEnd.FAILED),
        (Quiet(quiet_for=1.0, t=2.0), BOOT, True, False, PhaseEnd.FAILED),
        (TimedOut(t=5.0), OFF, True, True, PhaseEnd.FAILED),
    ],
)
def test_what_the_end_of_a_phase_means(
    outcome: Outcome, milestone: Milestone, first: bool, waiting_exit: bool, end: PhaseEnd
) -> None:
    assert phase_end(outcome, milestone, first=first, waiting_exit=waiting_exit) is end
