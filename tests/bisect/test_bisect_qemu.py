"""Acceptance under QEMU and the in-repo emulator: a 32-build qsoe-sim series with a deterministic wedge."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, hartbeat

MAKE_SERIES = REPO / "images" / "qsoe-sim" / "make_series.py"

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-riscv64") and shutil.which("riscv64-unknown-elf-gcc") and MAKE_SERIES.exists()),
    reason="needs qemu-system-riscv64, riscv64-unknown-elf-gcc and images/qsoe-sim",
)


@pytest.mark.parametrize("board", ["qemu-qsoe", "emulator-qsoe"])
def test_series_culprit_in_log2_candidate_boots(tmp_path: Path, board: str) -> None:
    series = tmp_path / "series"
    subprocess.run(
        [
            sys.executable,
            str(MAKE_SERIES),
            "--folder",
            str(series),
            "--count",
            "32",
            "--culprit",
            "19",
            "--fault",
            "wedge",
        ],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "out"
    done = hartbeat(
        "bisect", "qsoe-boot", "--board", board, "--builds", str(series), "--artifact", "kernel=qsoe.elf",
        "--out", str(out), "--seed", "11", "--endpoint-runs", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "bisect.json").read_text())
    assert (result["first_bad"], result["last_good"]) == ("build-019", "build-018")
    assert result["candidate_boots"] <= math.ceil(math.log2(32))
    assert result["signature"].startswith("wedge|usr-mounted|tm_msg 0x# <- TM_REQ_SPAWN")
