"""The runner's way into SSH (harness/ssh/hooks.py): a step hook and a deploy only for boards that
have ``[ssh]`` or ``[deploy]``, and paramiko loaded only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.model.board import Board
from harness.ssh.hooks import board_step_hooks, deploy_for_board


def board(**settings: dict) -> Board:
    return Board(name="b", path=Path("b.toml"), target="qemu", settings=settings)


def test_a_board_without_ssh_gets_no_hook_and_no_deploy(tmp_path: Path) -> None:
    assert board_step_hooks(board(), tmp_path, lambda: None) == {}
    deploy_for_board(board(), {}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no ssh.log: nothing was tried


def test_a_board_with_ssh_gets_the_ssh_step() -> None:
    hooks = board_step_hooks(board(ssh={"host": "127.0.0.1", "port": 2222}), Path("run"), lambda: "login")
    assert list(hooks) == ["ssh"] and callable(hooks["ssh"])


def test_paramiko_is_not_loaded_for_a_board_without_ssh(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom harness.model.board import Board\n"
        "from harness.ssh.hooks import board_step_hooks, deploy_for_board\n"
        "b = Board(name='b', path=Path('b.toml'), target='qemu')\n"
        f"board_step_hooks(b, Path({str(tmp_path)!r}), lambda: None)\n"
        f"deploy_for_board(b, {{}}, Path({str(tmp_path)!r}))\n"
        "print('paramiko' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False", out.stderr
