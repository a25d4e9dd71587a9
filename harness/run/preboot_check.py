"""Checks before boot: everything that can be known wrong without powering anything on.

``hartbeat check`` prints every finding; ``hartbeat run`` refuses to start on an error. Each
finding is one line naming the file, the key and the fix.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness.engine.patterns import SEARCH_BUDGET, has_nested_quantifier
from harness.errors import ConfigError
from harness.model.board import Board
from harness.model.plan import STANDARD_FAILS, Plan
from harness.model.preboot_finding import Finding, Level
from harness.model.sdcard import card_findings
from harness.run.board_loader import load_fallback
from harness.run.setup import RunSetup
from harness.targets import target_kind


def check_images(board: Board, variables: Mapping[str, str], plan: Plan | None = None) -> list[Finding]:
    """Every image slot names a readable file.

    A slot the plan's ``[images]`` filled is reported against the plan file: that is where the
    path comes from and what to fix (linux-boot's kernel before ``make linux-image``).
    """
    findings = []
    for slot, path in board.image_files(variables).items():
        from_plan = plan is not None and plan.images.get(slot) == board.images[slot]
        source = str(plan.path) if plan is not None and from_plan else str(board.path)
        if _symlink_loop(path):
            findings.append(Finding(Level.ERROR, source, f"images.{slot}", f"{path} is a symlink loop"))
        elif not path.exists():
            findings.append(
                Finding(
                    Level.ERROR,
                    source,
                    f"images.{slot}",
                    f"{path} does not exist; build it or pass --image {slot}=PATH",
                    unavailable=True,
                )
            )
        elif not path.is_file() or not os.access(path, os.R_OK):
            findings.append(Finding(Level.ERROR, source, f"images.{slot}", f"{path} is not a readable file"))
    return findings


def check_symbols(plan: Plan, board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Every ``[symbols]`` file of the board and the plan exists: a warning (the run goes on; its
    autopsy then names what it can from the other files)."""
    findings = []
    for source, table in ((str(board.path), board.symbols), (str(plan.path), plan.symbols)):
        for label, value in table.items():
            try:
                path = Path(board.expand(value, f"symbols.{label}", variables))
            except ConfigError as exc:
                findings.append(Finding(Level.ERROR, source, f"symbols.{label}", exc.problem))
                continue
            if not path.is_file():
                message = f"{path} is not a file: the autopsy will not name addresses from it"
                findings.append(Finding(Level.WARNING, source, f"symbols.{label}", message))
    return findings


def _symlink_loop(path: Path) -> bool:
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def check_fallback(board: Board, image_overrides: Iterable[tuple[str, str]]) -> list[Finding]:
    """The fallback board exists, loads, and takes the same ``--image`` slots. (Its SD card is
    checked when the run falls back to it: ``Runner``.)"""
    if board.fallback is None:
        return []
    try:
        load_fallback(board, image_overrides)
    except ConfigError as exc:
        return [Finding(Level.ERROR, str(board.path), "fallback", exc.problem)]
    return []


def check_plan_against_board(plan: Plan, board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Variables used by the plan exist on the board; SSH steps have an [ssh] section."""
    findings = []
    for index, milestone in enumerate(plan.milestones):
        for key, text in (("send", milestone.send), ("keys", milestone.keys)):
            if text is None:
                continue
            try:
                board.expand(text, f"milestone[{index}].{key}", variables)
            except ConfigError as exc:
                findings.append(Finding(Level.ERROR, str(plan.path), f"milestone[{index}].{key}", exc.problem))
        if milestone.ssh is not None and "ssh" not in board.settings:
            findings.append(
                Finding(
                    Level.ERROR,
                    str(plan.path),
                    f"milestone[{index}].ssh",
                    f"board {board.name} has no [ssh] section to run `{milestone.ssh}` with",
                )
            )
    if board.target == "process":
        # QEMU and the emulator know where each slot goes; a process board passes only the slots
        # its command names, so a plan's kernel or initrd it lacks would be dropped silently (and
        # the guest's "No working init found" would read as a kernel bug).
        findings += [
            Finding(
                Level.ERROR,
                str(plan.path),
                f"images.{slot}",
                f"plan {plan.name} fills image slot {slot!r} but board {board.name} ({board.path}) has no such "
                f'slot: add `{slot} = "none"` to its [images] and use {{{slot}}} in its command',
            )
            for slot in plan.images
            if slot not in board.images
        ]
    return findings


def check_patterns(plan: Plan) -> list[Finding]:
    """A warning for each pattern that quantifies a quantified group (``(a+)+``)."""
    written: list[tuple[str, str]] = []
    for index, milestone in enumerate(plan.milestones):
        for key, pattern in (("expect", milestone.expect), ("prompt", milestone.prompt)):
            if pattern is not None:
                written.append((f"milestone[{index}].{key}", pattern.pattern))
    standard = {source for _name, source in STANDARD_FAILS}
    fails = enumerate(plan.fails)
    written += [(f"fail[{i}].pattern", f.regex.pattern) for i, f in fails if f.regex.pattern not in standard]
    return [
        Finding(
            Level.WARNING,
            str(plan.path),
            key,
            f"/{source}/ has a nested quantifier: on a line that almost matches it can backtrack for "
            f"hours; a search that takes over {SEARCH_BUDGET:g} s ends the run as error. Write it without "
            "the outer repetition (e.g. a+ instead of (a+)+)",
        )
        for key, source in written
        if has_nested_quantifier(source)
    ]


def check_deadlines(plan: Plan) -> list[Finding]:
    """A warning for each milestone whose ``within`` is shorter than its silence limit.

    Its deadline always passes before the silence does: a hang in that step is reported as a
    ``stall`` (its reason says how long the console was quiet), never as a ``wedge``.
    """
    findings = []
    for index, milestone in enumerate(plan.milestones):
        silence = milestone.silence or plan.silence
        if milestone.exits or milestone.ssh is not None or milestone.within >= silence:
            continue
        findings.append(
            Finding(
                Level.WARNING,
                str(plan.path),
                f"milestone[{index}].within",
                f"`{milestone.name}` waits {milestone.within:g} s, less than its {silence:g} s silence limit: "
                "its deadline passes first, so this plan cannot tell a wedge from a stall in this step; "
                f"give it `silence` of at most {milestone.within:g} s or a longer `within`",
            )
        )
    return findings


def preboot_findings(setup: RunSetup) -> list[Finding]:
    """All findings for a run as set up: images, plan/board agreement, patterns, the fallback, the
    SD card, and the target's own checks; against the plan as written (its own limits)."""
    plan, board, variables = setup.plan, setup.board, setup.variables
    findings = check_images(board, variables, plan)
    findings += check_fallback(board, setup.images)
    findings += check_plan_against_board(plan, board, variables)
    findings += check_patterns(plan)
    findings += check_deadlines(plan)
    findings += check_symbols(plan, board, variables)
    findings += card_findings(board, variables)
    findings += target_kind(board.target).preflight(board, variables)
    return findings
