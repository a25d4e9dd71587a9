"""The runner's way into SSH: a board's ``[ssh]`` step and ``[deploy]``, nothing without them.

paramiko is imported here only when a board has one of those sections: it is most of hartbeat's
start-up (about 0.4 s), which every run of a board without SSH would otherwise pay, and which
a bisect pays per process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from harness.model.board import Board
from harness.ssh.settings import deploy_settings_from, ssh_settings_from

if TYPE_CHECKING:
    from harness.ssh.step import StepHook


def deploy_for_board(board: Board, variables: Mapping[str, str], out_dir: Path) -> None:
    """Run the board's ``[deploy]`` before power-on; nothing without one."""
    if "deploy" not in board.settings:
        return
    from harness.ssh.deploy import deploy

    deploy(deploy_settings_from(board), board, variables, out_dir / "ssh.log")


def board_step_hooks(board: Board, out_dir: Path, last_reached: Callable[[], str | None]) -> dict[str, StepHook]:
    """``{"ssh": hook}`` when the board has an ``[ssh]`` section, else nothing."""
    if "ssh" not in board.settings:
        return {}
    from harness.ssh.step import step_hook

    return {"ssh": step_hook(ssh_settings_from(board), out_dir / "ssh.log", last_reached)}
