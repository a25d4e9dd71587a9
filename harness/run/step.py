"""One milestone as the console waits for it: the watches of each phase, and what each end means.

A step waits in up to three phases: for the milestone's line (with the fail, reset and prompt
watches beside it), for its prompt to come back, and for the target to end. :func:`watches_for`
builds them from the setup alone and :func:`phase_end` reads how a phase ended; the runner
waits, records and judges. Both are pure, so a step is testable without a console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from harness.engine.console import Closed, Matched, Outcome, Watch
from harness.engine.watch_kind import WatchKind
from harness.model.plan import FailPattern, Milestone, Plan
from harness.run.setup import RunSetup


@dataclass(frozen=True)
class StepWatches:
    """What a step waits for, phase by phase.

    ``fails`` gives the plan's fail pattern behind each fail watch (its kind and ``after``);
    ``prompt`` is the milestone's prompt watch, if it has one; with ``waits_exit`` the last
    ``exit_phases`` phases wait for the target to end (two when the first of them also watches
    for the guest's power-off line).
    """

    phases: tuple[tuple[Watch, ...], ...]
    fails: Mapping[Watch, FailPattern]
    prompt: Watch | None
    waits_exit: bool
    exit_phases: int = 1

    def waiting_exit(self, phase: int) -> bool:
        """Whether ``phase`` is one that waits for the target to end."""
        return self.waits_exit and phase >= len(self.phases) - self.exit_phases


class PhaseEnd(Enum):
    """What the end of one phase means for its step."""

    REACHED = "reached"  # the milestone's line matched: record it, go on
    EXITED = "exited"  # the target ended as the step asked, with no line expected: record that
    NEXT = "next"  # nothing to record: go on to the next phase
    GUEST_OFF = "guest-off"  # the guest's power-off line: the target may end now; wait for its exit
    FAILED = "failed"  # anything else: judge the outcome


def plan_key(plan: Plan, milestone: Milestone) -> str:
    """``plan.toml: milestone[2]`` for a plan milestone, its name for a test's own one."""
    names = [m.name for m in plan.milestones]
    if milestone.name in names:
        return f"{plan.path}: milestone[{names.index(milestone.name)}]"
    return f"milestone `{milestone.name}`"


def types_next(setup: RunSetup, milestone: Milestone) -> bool:
    """Whether the plan's next step after ``milestone`` types (``send``, ``keys``, an ``off`` command)."""
    milestones = setup.scaled_plan.milestones
    names = [m.name for m in milestones]
    if milestone.name not in names:
        return False
    following = milestones[names.index(milestone.name) + 1 :]
    if not following:
        return False
    after = following[0]
    # An `off` step types the board's off_command unless hartbeat switches the target off.
    return after.send is not None or after.keys is not None or (after.off and setup.off_command() is not None)


def watches_for(
    setup: RunSetup, milestone: Milestone, *, resets: bool, guest_off: re.Pattern[str] | None = None
) -> StepWatches:
    """The phases of ``milestone``'s step; with ``resets`` the plan's reset banners are watched too.

    ``guest_off`` is the line a target that can end itself at it (QEMU, the emulator) waits for
    in an ``off`` step that typed its command; the step still ends at the target's exit, so a
    replay, which has no target and passes none, decides the same.
    """
    plan = setup.scaled_plan
    where = plan_key(plan, milestone)
    fails = {
        Watch(f.name, WatchKind.FAIL, f.regex, partial=False, key=f"{plan.path}: fail[{i}].pattern"): f
        for i, f in enumerate(plan.fails)
    }
    watched = list(fails)
    # A banner seen again once a later milestone was reached means the board reset.
    if resets:
        watched += [Watch(f"reset:{r.pattern}", WatchKind.RESET, r, partial=False) for r in plan.resets]
    # A prompt is answered by typing: with nothing captured, a match on the unfinished line
    # is the prompt itself and need not wait for the console to pause (see Watch.settle).
    prompt = (
        Watch(
            f"{milestone.name}:prompt",
            WatchKind.PROMPT,
            milestone.prompt,
            key=f"{where}.prompt",
            settle=milestone.prompt.groups > 0,
        )
        if milestone.prompt
        else None
    )
    phases: list[tuple[Watch, ...]] = []
    if milestone.expect is not None:
        settle = milestone.expect.groups > 0 or not types_next(setup, milestone)
        expect = Watch(milestone.name, WatchKind.EXPECT, milestone.expect, key=f"{where}.expect", settle=settle)
        phases.append((*watched, expect, *([prompt] if prompt else [])))
    if prompt is not None:
        phases.append((*watched, prompt))
    exit_phases = 1
    if milestone.exits and milestone.off and guest_off is not None:
        phases.append((*watched, Watch(f"{milestone.name}:guest-off", WatchKind.OFF, guest_off, partial=False)))
        exit_phases = 2
    if milestone.exits:
        phases.append(tuple(watched))
    return StepWatches(tuple(phases), fails, prompt, milestone.exits, exit_phases)


def phase_end(outcome: Outcome, milestone: Milestone, *, first: bool, waiting_exit: bool) -> PhaseEnd:
    """What ``outcome`` means for ``milestone``'s step in its first phase or a later one."""
    if isinstance(outcome, Matched) and outcome.watch.kind == WatchKind.EXPECT:
        return PhaseEnd.REACHED
    if isinstance(outcome, Matched) and outcome.watch.kind == WatchKind.OFF:
        return PhaseEnd.GUEST_OFF
    if isinstance(outcome, Matched) and outcome.watch.kind == WatchKind.PROMPT:
        # The prompt back before the expected line: the check failed.
        return PhaseEnd.FAILED if first and milestone.expect is not None else PhaseEnd.NEXT
    if isinstance(outcome, Closed) and waiting_exit and not outcome.harness_side:
        return PhaseEnd.EXITED if milestone.expect is None else PhaseEnd.NEXT
    return PhaseEnd.FAILED
