"""tests/workers.py under pytest-xdist: a module whose fixture is shared runs whole on one worker.

The suite's conftest gives such a module an ``xdist_group`` of its own (:func:`tests.workers.shared_group`)
and ``make test`` hands the groups out with the Makefile's ``--dist`` mode. This runs a small suite
the same way and asks which workers set its module fixture up. pytest 9.2 with pytest-xdist 3.8
dropped the marks without a word (pytest-xdist issue 1386): each worker booted its own copy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUITE = """
import os
import pytest

@pytest.fixture(scope="module")
def boot():
    with open(os.environ["BOOTS"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")

@pytest.mark.parametrize("index", range(8))
def test_shares_the_boot(boot, index):
    pass
"""

# The suite's own marking (tests/conftest.py), on this small suite.
CONFTEST = """
import pytest
from tests import workers

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if (group := workers.shared_group(item)) is not None:
            item.add_marker(pytest.mark.xdist_group(group))
"""


def test_a_shared_module_fixture_is_set_up_once_on_two_workers(tmp_path: Path) -> None:
    dist = re.search(r"^XDIST\s*:?=.*?(--dist \S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert dist is not None, "the Makefile's XDIST names no --dist mode"
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_shared.py").write_text(SUITE)
    boots = tmp_path / "boots"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "BOOTS": str(boots), "PYTHONPATH": path}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:labgrid", "-n", "2"]
    done = subprocess.run(
        [*argv, *dist.group(1).split()], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout, done.stdout
    workers = boots.read_text().split()
    assert len(workers) == 1, f"{dist.group(1)} set the module fixture up on {workers}: each worker booted it"
