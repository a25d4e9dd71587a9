"""Bisect over a git range (worktrees, a broken build is a skip) and ``git bisect run`` compatibility."""

from __future__ import annotations

import json
import os
import re
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
    # Issue 24, item 4: the next step works outside the repository, and regzbot gets its line.
    assert result["next_steps"][0] == f"git -C {repo} show {shas[7]}"
    assert result["next_steps"][1].startswith("hartbeat compare ")
    assert "commit: build 7  (t <t@t>)" in done.stdout and f"next: git -C {repo} show {shas[7]}" in done.stdout
    shown = subprocess.run(result["next_steps"][0].split(), cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert shown.returncode == 0 and "build 7" in shown.stdout, shown.stderr
    assert result["regzbot"] == f"#regzbot introduced: {shas[7]}" and result["regzbot"] in done.stdout
    # bisect.html tells what the terminal and bisect.json tell; its boots add up.
    page = (out / "bisect.html").read_text()
    assert "build 7" in page and "t &lt;t@t&gt;" in page and f"#regzbot introduced: {shas[7]}" in page
    assert f"git -C {repo} show {shas[7]}" in page and "the answer held" in page and 'id="lastlines"' in page
    boots = re.search(r'id="boots">(\d+) boots \((\d+) endpoint, (\d+) candidate, (\d+) verify\)', page)
    assert boots is not None, page
    total, *parts = (int(n) for n in boots.groups())
    assert total == sum(parts) == result["total_boots"] and parts[2] == result["verify_boots"] > 0
    assert "worktree" not in git(repo, "worktree", "list").split("\n", 1)[-1], "worktrees must be removed"


def make_revert_repo(tmp_path: Path, name: str, count: int, culprit: int, touch_later: bool) -> tuple[Path, list[str]]:
    """The culprit adds ``hang``, a script the build uses instead of ``script``; with
    ``touch_later`` the next commit edits it, so the culprit no longer reverts cleanly."""
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "script").write_text(build_script(0, 0, panic=False))
    shas = []
    for index in range(count):
        if index == culprit:
            # Its change is only this file, so it reverts cleanly unless a later commit edits it.
            (repo / "hang").write_text(build_script(index, 100, panic=False))
        else:
            (repo / "version").write_text(f"{index}\n")
        if touch_later and index == culprit + 1:
            (repo / "hang").write_text(build_script(index, 100, panic=False) + "# edited\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change {index}")
        shas.append(git(repo, "rev-parse", "HEAD").strip())
    return repo, shas


REVERT_BUILD = "mkdir -p out && if [ -e hang ]; then cp hang out/script; else cp script out/script; fi"


def test_revert_check(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    # Issue 24, item 4: the culprit reverted on top of the bad endpoint must pass (KernelCI's rule).
    plan, board = scripted
    for name, touch_later, held in (("clean", False, True), ("conflict", True, False)):
        repo, shas = make_revert_repo(tmp_path, name, 6, culprit=3, touch_later=touch_later)
        out = tmp_path / f"out-{name}"
        done = hartbeat(
            "bisect", str(plan), "--board", str(board), "--repo", str(repo), "--good", shas[0], "--bad", shas[-1],
            "--build", REVERT_BUILD, "--artifact", "script=out/script", "--out", str(out), "--seed", "1",
            "--endpoint-runs", "1", "--revert-check",
        )  # fmt: skip
        result = json.loads((out / "bisect.json").read_text())
        assert result["first_bad"] == shas[3][:10] and result["revert_held"] is held, done.stdout + done.stderr
        if held:
            assert done.returncode == 0 and result["revert_boots"] >= 1
            assert f"{shas[3][:10]} reverted on {shas[-1][:10]} passed" in result["revert_note"]
            assert "revert check: " in done.stdout and "the revert passed" in done.stdout
        else:
            assert done.returncode == 1 and "does not revert cleanly" in result["revert_note"], result["revert_note"]
            assert "the revert did NOT pass" in done.stdout
            assert result["regzbot"] is None and "#regzbot" not in done.stdout
        assert "revert check: " in (out / "bisect.html").read_text()
    refused = hartbeat("bisect", str(plan), "--board", str(board), "--builds", str(tmp_path), "--revert-check")
    assert refused.returncode == 2 and "--revert-check" in refused.stderr


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


def test_bisecting_an_emulators_own_history(tmp_path: Path, scripted: tuple[Path, Path]) -> None:
    """README, *Testing your own emulator*: the emulator program itself is the image slot each
    candidate build fills (`command = ["{emulator}", ...]`)."""
    plan, _ = scripted
    board = tmp_path / "my-emulator.toml"
    board.write_text(
        'name = "my-emulator"\ntarget = "process"\ncommand = ["{emulator}", "{seed}"]\n\n[images]\nemulator = "none"\n'
    )
    repo, shas = make_repo(tmp_path, 8, culprit=5, broken=-1)
    for sha in shas:  # the "emulator" is an executable program, as a real build makes
        assert git(repo, "ls-tree", sha, "script")
    out = tmp_path / "out"
    done = hartbeat(
        "bisect", str(plan), "--board", str(board), "--repo", str(repo), "--good", shas[0], "--bad", shas[-1],
        "--build", "mkdir -p build && cp script build/my-emulator && chmod +x build/my-emulator",
        "--artifact", "emulator=build/my-emulator", "--out", str(out), "--seed", "1", "--endpoint-runs", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "bisect.json").read_text())
    assert result["first_bad"] == shas[5][:10] and result["last_good"] == shas[4][:10]
