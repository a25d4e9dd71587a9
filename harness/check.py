"""Checks before boot: everything that can be known wrong without powering anything on.

``hartbeat check`` prints every finding; ``hartbeat run`` refuses to start on an error. Each
finding is one line naming the file, the key and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.board import Board
from harness.errors import ConfigError
from harness.findings import Finding
from harness.plan import Plan
from harness.targets import target_kind


def check_images(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Every image slot names a readable file."""
    findings = []
    for slot, path in board.image_files(variables).items():
        if not path.exists():
            findings.append(
                Finding(
                    "error",
                    str(board.path),
                    f"images.{slot}",
                    f"{path} does not exist; build it or pass --image {slot}=PATH",
                    unavailable=True,
                )
            )
        elif not path.is_file() or not os.access(path, os.R_OK):
            findings.append(Finding("error", str(board.path), f"images.{slot}", f"{path} is not a readable file"))
    return findings


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
                findings.append(Finding("error", str(plan.path), f"milestone[{index}].{key}", exc.problem))
        if milestone.ssh is not None and "ssh" not in board.settings:
            findings.append(
                Finding(
                    "error",
                    str(plan.path),
                    f"milestone[{index}].ssh",
                    f"board {board.name} has no [ssh] section to run `{milestone.ssh}` with",
                )
            )
    return findings


def preboot_findings(plan: Plan, board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """All findings: images, plan/board agreement, and the target's own checks."""
    findings = check_images(board, variables)
    findings += check_plan_against_board(plan, board, variables)
    findings += target_kind(board.target).preflight(board, variables)
    return findings
