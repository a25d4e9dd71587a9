"""Bisect over a git range (worktrees, a broken build is a skip) and ``git bisect run`` compatibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scripted_series import build_script

from conftest import REPO, hartbeat

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
BUILD = "mkdir -p out && if [ -e broken ]; then exit 3; fi && cp script out/script"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``."""
    return subprocess.run(["git", "-C", str(repo), *args], env=ENV, capture_output=True, text=True, check=True).stdout


def make_repo(tmp_path: Path, count: int, culprit: int, broken: int) -> tuple[Path, list[str]]:
    """One commit per build; from ``culprit`` on the script wedges; commit ``broken`` fails to build."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for index in range(count):
        (repo / "script").write_text(build_script(index, 100 if index >= culprit else 0, panic=False))
        marker = repo / "broken"
        if index == broken:
            marker.write_text("x")
        elif marker.exists():
            marker.unlink()
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"build {index}")
        shas.append(git(repo, "rev-parse", "HEAD").strip())
    return repo, shas


def test_git_range(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    plan, board = scripted
    repo, shas = make_repo(tmp_path, 12, culprit=7, broken=3)
    out = tmp_path / "out"
    done = hartbeat(
        "bisect", str(plan), "--board", str(board), "--repo", str(repo), "--good", shas[0], "--bad", shas[-1],
        "--build", BUILD, "--artifact", "script=out/script", "--out", str(out), "--seed", "1", "--endpoint-runs", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "bisect.json").read_text())
    assert result["first_bad"] == shas[7][:10] and result["last_good"] == shas[6][:10]
    # The answer names the commit and says what to do next.
    assert (result["subject"], result["author"]) == ("build 7", "t <t@t>")
    assert result["next_steps"][0] == f"git show {shas[7][:10]}"
    assert result["next_steps"][1].startswith("hartbeat compare ")
    assert "commit: build 7  (t <t@t>)" in done.stdout and f"next: git show {shas[7][:10]}" in done.stdout
    assert "worktree" not in git(repo, "worktree", "list").split("\n", 1)[-1], "worktrees must be removed"


def test_git_range_errors_are_usage_errors(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    plan, board = scripted
    repo, shas = make_repo(tmp_path, 3, culprit=2, broken=-1)
    done = hartbeat(
        "bisect", str(plan), "--board", str(board), "--repo", str(repo), "--good", shas[-1], "--bad", shas[0],
        "--build", BUILD, "--artifact", "script=out/script", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 2 and "not an ancestor" in done.stderr and "Traceback" not in done.stderr


def test_git_bisect_run(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    plan, board = scripted
    repo, shas = make_repo(tmp_path, 10, culprit=6, broken=-1)
    command = (
        f"{sys.executable} -m harness.cli run {plan} --board {board} --image script=$PWD/script "
        f"--out {tmp_path}/runs/$(git rev-parse --short HEAD) --expect-signature 'wedge|usr-mounted'"
    )
    env = {**ENV, "PYTHONPATH": str(REPO)}
    git(repo, "bisect", "start", shas[-1], shas[0])
    done = subprocess.run(
        ["git", "-C", str(repo), "bisect", "run", "sh", "-c", command], env=env, capture_output=True, text=True
    )
    assert f"{shas[6]} is the first bad commit" in done.stdout, done.stdout + done.stderr
