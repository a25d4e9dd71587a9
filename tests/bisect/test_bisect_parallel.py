"""benchmarks/bisect_parallel.py: --jobs 3 takes at most 0.7x the wall time of --jobs 1, same culprit."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO


# A ratio of wall times: a test on another xdist worker would take the cores --jobs 3 needs.
@pytest.mark.alone
def test_jobs_3_is_at_most_0_7_of_jobs_1() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bisect_parallel.py")], capture_output=True, text=True, check=False
    )
    print(done.stdout)
    # The figure itself, not only the benchmark's exit code: the ratio it printed, and both culprits.
    ratio = re.search(r"^ratio jobs3/jobs1: (\d+\.\d+) \(limit 0\.7\)$", done.stdout, re.MULTILINE)
    culprits = re.findall(r"^jobs [13]: .* first bad (build-\d+)$", done.stdout, re.MULTILINE)
    assert ratio is not None, done.stdout + done.stderr
    assert float(ratio.group(1)) <= 0.7, done.stdout
    assert len(culprits) == 2 and culprits[0] == culprits[1], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
