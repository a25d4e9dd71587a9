"""make_series.py: folder and git series put the culprit where asked, and each build boots accordingly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib

import pytest

# pexpect 4.8 PopenSpawn calls the deprecated Thread.setDaemon().
pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")


@pytest.fixture
def toolchain(build_image):
    """Skips like build_image when the compiler is missing; series builds need it too."""
    return build_image


def test_folder_series_first_builds_boot_rest_wedge(toolchain, make_series, boot, tmp_path):
    specs = make_series.plan_series(count=8, culprit=5, fault="wedge")
    manifest = make_series.build_folder(specs, tmp_path / "series")
    names = tomllib.loads(manifest.read_text())["builds"]
    assert names == [f"build-{i:03d}" for i in range(8)]

    for i, name in enumerate(names):
        console = boot(manifest.parent / name / "qsoe.elf", "seed=1")
        console.expect(rf"QSOE/sim v0\.{i} \(build [0-9a-f]{{8}}\)")
        assert console.outcome() == ("login" if i < 5 else "wedge"), name
        console.close()


def test_folder_series_noop_and_unrelated_panic(toolchain, make_series, boot, tmp_path):
    out = tmp_path / "series"
    assert (
        make_series.main(
            ["--folder", str(out), "--count", "6", "--culprit", "4", "--noop-builds", "2", "--unrelated-panic", "4-5"]
        )
        == 0
    )
    elves = [(out / f"build-{i:03d}" / "qsoe.elf").read_bytes() for i in range(6)]
    assert elves[2] == elves[1]  # no-op build: byte-identical
    assert len(set(elves)) == 5  # a version bump alone changes the bytes

    truth = json.loads((out / "series.json").read_text())
    assert truth["culprit"] == 4 and truth["fault"] == "wedge"
    assert [b["unrelated_panic"] for b in truth["builds"]] == [False] * 4 + [True] * 2

    console = boot(out / "build-005" / "qsoe.elf")
    console.expect(r"Kernel panic - not syncing: devb-nvme: controller timeout")


def test_git_series_commits_and_worktree_build(toolchain, make_series, boot, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    proc = subprocess.run(
        [
            sys.executable,
            str(make_series.SRC_DIR / "make_series.py"),
            "--git",
            str(repo),
            "--count",
            "6",
            "--culprit",
            "4",
            "--noop-builds",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    shas = git("rev-list", "--reverse", "HEAD").split()
    assert len(shas) == 6
    assert git("rev-parse", "first^{commit}") == shas[0]
    assert git("rev-parse", "last^{commit}") == shas[-1]
    assert f"culprit {shas[4]}" in proc.stdout
    assert "FAULT = none" in git("show", f"{shas[3]}:build.conf")
    assert "FAULT = wedge" in git("show", f"{shas[4]}:build.conf")
    assert git("diff", "--name-only", shas[1], shas[2]) == "CHANGELOG"

    for index, expected in ((3, "login"), (4, "wedge")):
        worktree = tmp_path / f"wt{index}"
        git("worktree", "add", "-q", "--detach", str(worktree), shas[index])
        build = subprocess.run(["make", "-s"], cwd=worktree, capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        console = boot(worktree / "out" / "qsoe.elf")
        console.expect(rf"QSOE/sim v0\.{index} ")
        assert console.outcome() == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["--count", "8", "--culprit", "0"],
        ["--count", "8", "--culprit", "8"],
        ["--count", "8", "--culprit", "5", "--noop-builds", "5"],
        ["--count", "8", "--unrelated-panic", "6-9"],
    ],
    ids=["culprit-first", "culprit-past-end", "noop-culprit", "panic-range-past-end"],
)
def test_impossible_series_fail_before_building(make_series, tmp_path, argv):
    assert make_series.main(["--folder", str(tmp_path / "s"), *argv]) == 1
    assert not (tmp_path / "s").exists()


def test_malformed_fault_is_a_usage_error(make_series, tmp_path):
    with pytest.raises(SystemExit) as exc:
        make_series.main(["--folder", str(tmp_path / "s"), "--fault", "flaky"])
    assert exc.value.code == 2
