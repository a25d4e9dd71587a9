"""Shared fixtures: scripted console processes driven through the real ``process`` target."""

from __future__ import annotations

import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.model.board import Board
from harness.model.plan import Plan, load_plan
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from tests import card_fixtures, workers
from tests.linux import conftest as linux_fixtures

TESTS = Path(__file__).resolve().parent
# The fast tier (`make check`, `pytest -m "not slow"`): modules that boot nothing and spawn no
# process, so they run in seconds. Every other test is marked `slow` here (a new test module is
# slow until it is listed), which keeps the fast tier fast without a marker in each file.
FAST = (
    "test_layers.py",
    "engine/",
    "bisect/test_bisect_search.py",
    "bisect/test_bisect_stats.py",
    "bisect/test_bisect_criterion.py",
    "bisect/test_bisect_cache.py",
    "bisect/test_bisect_journal.py",
    "bisect/test_bisect_trials.py",
    "bisect/test_bisect_posterior.py",
    "emulator/test_decode.py",
    "emulator/test_interp.py",
    "emulator/test_cpu_state.py",
    "emulator/test_fpu.py",
    "emulator/test_devices.py",
    "emulator/test_translate.py",
    "autopsy/",
    "emulator/test_control.py",
    "emulator/test_rbb.py",
    "targets/test_registry.py",
    "run/test_runner.py",
    "cli/test_commands.py",
    "run/test_setup.py",
    "run/test_step.py",
    "analysis/test_playback.py",
    "model/test_gpt.py",
    "run/test_off_and_until.py",
    "model/test_plan_matrix.py",
    "probes/test_take.py",
    "probes/test_qemu.py",
    "targets/test_openocd.py",
    "model/test_plan.py",
    "power/test_base.py",
    "power/test_manual.py",
    "power/test_registry.py",
    "targets/test_qemu_argv.py",
    "targets/test_linux_boot.py",
    "model/test_sdcard.py",
    "records/test_results.py",
    "cli/test_common.py",
    "model/test_config.py",
    "model/test_board.py",
    "model/test_preboot_finding.py",
    "run/test_signals.py",
    "targets/test_sockets.py",
    "probes/test_registry.py",
    "probes/test_backend.py",
    "test_errors.py",
    "records/test_run_folder.py",
    "records/test_report.py",
    "run/test_board_loader.py",
    "ssh/test_settings.py",
    "targets/test_fake.py",
    "targets/test_base.py",
    "lab/test_places.py",
    "cli/test_report.py",
    "cli/test_bisect.py",
    "cli/test_calibrate.py",
    "cli/test_check.py",
    "cli/test_compare.py",
    "cli/test_places.py",
)


# Session fixtures every folder shares (one build, fetch or card per session): the tiny Linux,
# Debian's kernel with its device trees, Debian's SiFive firmware, the Unleashed SD card.
linux_image = linux_fixtures.linux_image
distro_kernel = linux_fixtures.distro_kernel
sifive_firmware = card_fixtures.sifive_firmware
card_inputs = card_fixtures.card_inputs
unleashed_card = card_fixtures.unleashed_card
unmatched_card = card_fixtures.unmatched_card


@pytest.fixture(
    params=[
        pytest.param(sys.executable, id="cpython"),
        pytest.param(
            "pypy3", id="pypy", marks=pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 not installed")
        ),
    ]
)
def emulator_python(request: pytest.FixtureRequest) -> str:
    """The interpreter an emulator process runs under: this CPython, and Debian's PyPy (the
    default when installed, see ``harness.targets.emulator``); each picks its own engine."""
    return str(request.param)


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, say this worker has started (see :mod:`tests.workers`)."""
    workers.started(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under xdist, say this worker's tests are over (see :mod:`tests.workers`)."""
    workers.finished(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    """Under xdist, run a test marked ``alone`` with nothing running on the other workers.

    The replay of every run (``all_runs_root``) waits for the other workers to finish, so it
    takes no turn: an ``alone`` test there would wait for it in turn.
    """
    if "all_runs_root" in getattr(item, "fixturenames", ()):
        return (yield)
    with workers.turn(item.config, alone=item.get_closest_marker("alone") is not None):
        return (yield)


@pytest.fixture
def all_runs_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder below which every test of this session made its run folders, once all are made."""
    return workers.all_runs_root(request.config, tmp_path_factory.getbasetemp())


def is_fast(path: Path) -> bool:
    """Whether the test module at ``path`` is in the fast tier (:data:`FAST`)."""
    relative = path.resolve().relative_to(TESTS).as_posix()
    return any(relative == name or relative.startswith(name) for name in FAST)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test outside :data:`FAST` as ``slow``; under xdist, keep shared boots shared.

    Runs before xdist's own hook, which turns the ``xdist_group`` marks into the units
    ``--dist loadgroup`` hands out (see :func:`tests.workers.shared_group`).
    """
    for item in items:
        if not is_fast(item.path):
            item.add_marker(pytest.mark.slow)
        group = workers.shared_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m "not slow"`` (the fast tier), do not import what would be deselected.

    Every test outside :data:`FAST` is marked slow, so the fast tier would import a slow module
    (and its folder's conftest, QEMU and lab helpers) only to drop all of its tests: half of
    ``make check``'s collection time.
    """
    if config.option.markexpr.replace(" ", "") != "notslow" or collection_path == TESTS:
        return None
    try:
        relative = collection_path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return None
    if collection_path.is_dir():
        # A folder is kept when a FAST entry lies inside it or it lies inside a FAST folder.
        folder = relative + "/"
        keep = any(name.startswith(folder) or folder.startswith(name) for name in FAST)
        return None if keep else True
    if collection_path.name.startswith("test_") and collection_path.suffix == ".py":
        return None if is_fast(collection_path) else True
    return None


SCRIPTS = Path(__file__).parent / "scripts"


def write(path: Path, text: str) -> Path:
    """Write dedented text and return the path."""
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def scripted_board(tmp_path: Path) -> Callable[[str], Path]:
    """A board profile whose target plays the given console script."""

    def make(script: str) -> Path:
        script_path = write(tmp_path / "boot.script", script)
        return write(
            tmp_path / "scripted.toml",
            f"""
            name = "scripted"
            target = "process"
            command = ["{sys.executable}", "{SCRIPTS / "scripted_board.py"}", "{script_path}"]
            """,
        )

    return make


@pytest.fixture
def plan_file(tmp_path: Path) -> Callable[[str], Path]:
    """A testplan file from TOML text."""

    def make(text: str) -> Path:
        return write(tmp_path / "plan.toml", text)

    return make


@pytest.fixture
def run_plan(tmp_path: Path) -> Callable[[Path, Path], RunResult]:
    """Run a plan file on a board file through the real runner."""

    def run(plan_path: Path, board_path: Path, **kwargs: object) -> RunResult:
        plan: Plan = load_plan(plan_path)
        board: Board = load_board(str(board_path))
        return Runner(prepare(plan, board), out_dir=tmp_path / "run", **kwargs).run()

    return run


@pytest.fixture
def runs_folder() -> Iterator[Path]:
    """A folder for made-up run folders, gone after the test: tests/test_zz_replay_all.py replays
    every run folder below the session's temporary tree, and made-up reports (broken ones on
    purpose) are no live runs."""
    with tempfile.TemporaryDirectory(prefix="hartbeat-made-up-runs-") as name:
        yield Path(name)
