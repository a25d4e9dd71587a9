"""The parallel benchmark passes: --jobs 3 takes at most 0.7x the wall time of --jobs 1."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_jobs_3_is_at_most_0_7_of_jobs_1() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bisect_parallel.py")], capture_output=True, text=True, check=False
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
