"""``hartbeat bisect`` (harness/cli/bisect.py): its options, and each contradictory or out-of-range
one refused on one line naming it before anything boots or builds. The bisects themselves run in
tests/bisect (a folder of builds, a git range, QEMU, parallel boards, --resume, --replay)."""

from __future__ import annotations

from pathlib import Path

import pytest

HELP = (
    "--board", "--set", "--var", "--builds DIR", "--repo DIR", "--good REV", "--bad REV", "--build COMMAND",
    "--build-timeout SECONDS", "--artifact SLOT=PATH", "--strategy", "--confidence P", "--bad-if",
    "--check-endpoints, --no-check-endpoints", "--endpoint-runs N", "--endpoint-max M", "--revert-check",
    "--miss P", "--seed SEED", "--jobs N", "--out DIR", "--resume", "--replay LOG",
)  # fmt: skip


def test_help_lists_every_option(hartbeat) -> None:
    hartbeat("bisect", "--help").help_lists(*HELP)


# Each command line after `bisect uboot-smoke --board qemu-virt --builds DIR`, and what its one
# error line must name.
REFUSED = [
    (["--repo", "DIR"], ["exactly one of --builds DIR or --repo DIR"]),
    (["--confidence", "0.3"], ["--confidence: 0.3: expected a probability from 0.5"]),
    (["--confidence", "1"], ["--confidence: 1.0: expected a probability"]),
    (["--miss", "1.5"], ["--miss: 1.5: expected a probability between 0 and 1"]),
    (["--endpoint-runs", "0"], ["--endpoint-runs: 0: expected at least 1"]),
    (["--endpoint-runs", "4", "--endpoint-max", "3"], ["--endpoint-max: 3: expected at least --endpoint-runs (4)"]),
    (["--jobs", "0"], ["--jobs: 0: expected at least 1"]),
    (["--jobs", "2", "--board", "emulator-virt"], ["--jobs: 2: give either several --board or --jobs N"]),
    (["--resume"], ["--resume: needs --out DIR"]),
    (["--strategy", "guess"], ["--strategy", "invalid choice: 'guess'"]),
    (["--bad-if", "slow"], ["--bad-if", "invalid choice: 'slow'"]),
    (["--jobs", "two"], ["--jobs", "invalid int value: 'two'"]),
]


@pytest.mark.parametrize(("extra", "words"), REFUSED, ids=[" ".join(extra) for extra, _words in REFUSED])
def test_a_bad_option_is_one_line_naming_it(hartbeat, tmp_path: Path, extra: list[str], words: list[str]) -> None:
    given = ["bisect", "uboot-smoke", "--board", "qemu-virt", "--builds", str(tmp_path)]
    # --resume is refused for want of --out; every other line has one, which must stay unmade.
    if "--resume" not in extra:
        given += ["--out", str(tmp_path / "out")]
    hartbeat(*given, *[str(tmp_path) if arg == "DIR" else arg for arg in extra]).refused(*words)
    assert not (tmp_path / "out").exists()


def test_without_a_plan_or_a_range_nothing_starts(hartbeat, tmp_path: Path) -> None:
    hartbeat("bisect").refused("give a PLAN and --board (or --replay LOG)")
    hartbeat("bisect", "uboot-smoke", "--board", "qemu-virt").refused("give exactly one of --builds DIR or --repo DIR")
    repo = hartbeat("bisect", "uboot-smoke", "--board", "qemu-virt", "--repo", str(tmp_path), "--good", "v1")
    repo.refused(f"--repo: {tmp_path}: needs --good REV, --bad REV and --build COMMAND")


def test_an_artifact_for_a_slot_the_board_lacks_names_its_slots(hartbeat, tmp_path: Path) -> None:
    ran = hartbeat(
        "bisect", "uboot-smoke", "--board", "qemu-virt", "--builds", str(tmp_path), "--out", str(tmp_path / "out"),
        "--artifact", "rootfs=rootfs.img",
    )  # fmt: skip
    ran.refused("--artifact: rootfs: board qemu-virt has no such image slot; its slots: ")
