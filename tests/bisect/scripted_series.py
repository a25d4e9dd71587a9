"""Fast fake build series for bisect tests and the benchmark: each build is a tiny shell script.

A build folder holds ``script``; the board runs ``/bin/sh <script> <seed>``, so a flaky build
decides from the run's seed whether it wedges, and a whole bisect takes seconds.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

PLAN = """\
name = "scripted-boot"
silence = "{silence}s"
timeout = "20s"

[[milestone]]
name = "banner"
expect = 'SIM v\\d+'
within = "5s"

[[milestone]]
name = "usr-mounted"
expect = 'mounted qrvfs at /usr'
within = "5s"

[[milestone]]
name = "login"
expect = 'login: $'
within = "5s"
"""

BOARD = """\
name = "scripted-series"
target = "process"
command = ["/bin/sh", "{script}", "{seed}"]

[images]
script = "none"
"""

HANG = "echo 'tm_msg 0x11b <- TM_REQ_SPAWN exec level1.sh'; exec sleep 3600"
PANIC = "echo 'Kernel panic - not syncing: devb-nvme: controller timeout'; exec sleep 3600"


def build_script(number: int, hang_percent: int, panic: bool) -> str:
    """The shell script of one build: banner, mount, then a hang (maybe), a panic or the prompt."""
    lines = ["#!/bin/sh", f"echo 'SIM v{number}'"]
    if panic:
        lines.append(PANIC)
    lines.append("echo 'fs-qrv: mounted qrvfs at /usr'")
    if hang_percent >= 100:
        lines.append(HANG)
    elif hang_percent > 0:
        lines.append(f"if [ $(( $1 % 100 )) -lt {hang_percent} ]; then {HANG}; fi")
    lines += ["printf 'login: '", "exec sleep 3600"]
    return "\n".join(lines) + "\n"


def make_series(
    root: Path,
    count: int,
    culprit: int,
    *,
    hang_percent: int = 100,
    panics: Collection[int] = (),
    noops: Collection[int] = (),
) -> Path:
    """``count`` build folders under ``root/builds``; builds from ``culprit`` on hang. Returns the folder."""
    folder = root / "builds"
    folder.mkdir(parents=True)
    number = 0
    for index in range(count):
        if index not in noops:
            number = index
        script = build_script(number, hang_percent if index >= culprit else 0, index in panics)
        build = folder / f"build-{index:03d}"
        build.mkdir()
        (build / "script").write_text(script, encoding="utf-8")
    names = ", ".join(f'"build-{i:03d}"' for i in range(count))
    (folder / "builds.toml").write_text(f"builds = [{names}]\n", encoding="utf-8")
    return folder


def write_plan_and_board(root: Path, silence: float = 1.0) -> tuple[Path, Path]:
    """The plan and board files for scripted series."""
    plan = root / "plan.toml"
    plan.write_text(PLAN.format(silence=silence), encoding="utf-8")
    board = root / "board.toml"
    board.write_text(BOARD, encoding="utf-8")
    return plan, board
