"""pytest plugin: testplans as test items, and ``target``/``console`` fixtures.

``pytest testplans/ --board qemu-virt`` collects every plan as one item whose verdict decides
the outcome (a skip verdict skips). Python tests use the ``console`` fixture::

    def test_version(console):
        console.expect_milestone(r"=> $", "prompt", send="")
        assert console.run("version").status == 0

Tests marked ``@pytest.mark.hartbeat(state="uboot-shell")`` share one boot per state (see
:mod:`harness.pytest_states`).

pytest-timeout is the outer guard: each plan item gets the plan's own timeout plus a margin.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.board import Board, parse_assignments
from harness.errors import ConfigError, TargetUnavailable
from harness.plan import DEFAULT_SILENCE, Plan, load_plan, standard_fails
from harness.profiles import load_board
from harness.pytest_states import StateBoots, StateNotReached
from harness.report import summary
from harness.results import RunResult
from harness.runner import Runner, default_out_dir
from harness.session import Session
from harness.verdict import Kind, Verdict

# Time for power-off and the report on top of the plan's own timeout, before pytest-timeout fires.
TIMEOUT_MARGIN = 60.0
_PLAN_MARK = re.compile(r"^\s*\[\[milestone\]\]", re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options."""
    group = parser.getgroup("hartbeat", "hartbeat boot-milestone testing")
    group.addoption("--board", dest="hartbeat_board", help="board profile (name or path) to run testplans on")
    group.addoption(
        "--hartbeat-set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a board profile key"
    )
    group.addoption("--hartbeat-image", action="append", default=[], metavar="SLOT=PATH", help="fill an image slot")
    group.addoption("--hartbeat-var", action="append", default=[], metavar="NAME=VALUE", help="set a variable")
    group.addoption("--hartbeat-runs", default="runs", help="folder for run folders (default: runs)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``hartbeat`` marker."""
    config.addinivalue_line(
        "markers",
        "hartbeat(state, plan=None): the console fixture starts in this state, reached by the plan of that "
        "name; tests in the same state share one boot",
    )


def _board(config: pytest.Config) -> Board:
    name = config.getoption("hartbeat_board")
    if not name:
        raise pytest.UsageError("hartbeat: give --board NAME to run testplans or use the target/console fixtures")
    return load_board(
        name,
        overrides=parse_assignments(config.getoption("hartbeat_set"), "--hartbeat-set"),
        images=parse_assignments(config.getoption("hartbeat_image"), "--hartbeat-image"),
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.toml`` testplans, only when ``--board`` is given."""
    if file_path.suffix != ".toml" or not parent.config.getoption("hartbeat_board"):
        return None
    if not _PLAN_MARK.search(file_path.read_text(encoding="utf-8", errors="replace")):
        return None
    return PlanFile.from_parent(parent, path=file_path)


class PlanFailed(Exception):
    """A plan ended with a non-pass verdict."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(result.verdict.summary())


class PlanFile(pytest.File):
    """A testplan file: one item."""

    def collect(self) -> Iterator[pytest.Item]:
        """Load the plan; a malformed plan is a collection error with file and key."""
        try:
            plan = load_plan(self.path)
        except ConfigError as exc:
            raise self.CollectError(str(exc)) from None
        yield PlanItem.from_parent(self, name=plan.name, plan=plan)


class PlanItem(pytest.Item):
    """One testplan on the board given with ``--board``."""

    # A plan uses no fixtures. Other plugins read this from every item as if it were a function
    # (labgrid's, which the labgrid extra installs and pytest loads, does).
    fixturenames: tuple[str, ...] = ()

    def __init__(self, *, plan: Plan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.add_marker(pytest.mark.timeout(plan.timeout * _scale(self.config) + TIMEOUT_MARGIN))

    def runtest(self) -> None:
        """Boot, watch, decide."""
        board = _board(self.config)
        if not self.plan.runs_on(board.name):
            pytest.skip(f"plan {self.plan.name} is for boards {', '.join(self.plan.boards)}, not {board.name}")
        variables = dict(parse_assignments(self.config.getoption("hartbeat_var"), "--hartbeat-var"))
        runs = Path(self.config.getoption("hartbeat_runs"))
        runner = Runner(
            self.plan,
            board,
            out_dir=default_out_dir(self.plan, board.name, runs),
            variables=variables,
            image_overrides=tuple(parse_assignments(self.config.getoption("hartbeat_image"), "--hartbeat-image")),
        )
        result = runner.run()
        self.user_properties.append(("verdict", result.verdict.kind.value))
        self.user_properties.append(("report", str(result.out_dir / "report.json")))
        if result.verdict.kind is Kind.SKIP:
            pytest.skip(result.verdict.reason)
        if not result.verdict.passed:
            raise PlanFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The verdict summary and last lines instead of a traceback."""
        if isinstance(excinfo.value, PlanFailed):
            return summary(excinfo.value.result)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from, for pytest's report."""
        return self.path, None, f"testplan {self.plan.name}"


def _scale(config: pytest.Config) -> float:
    try:
        return _board(config).time_scale if config.getoption("hartbeat_board") else 1.0
    except ConfigError:
        return 1.0


def _fixture_plan(name: str) -> Plan:
    return Plan(
        name=name,
        path=Path(name),
        description="pytest fixture session",
        silence=DEFAULT_SILENCE,
        # Each expect has its own deadline; the session as a whole is bounded by pytest-timeout.
        timeout=math.inf,
        milestones=(),
        fails=standard_fails(),
        resets=(),
    )


@pytest.fixture
def console(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A powered-on target's console (from ``--board``) with hang-aware expects.

    The run folder (console log, report) is written as for a plan; the target is powered off
    afterwards whatever the test did.
    """
    marker = request.node.get_closest_marker("hartbeat")
    if marker is not None and marker.kwargs.get("state"):
        yield from _shared_console(request, str(marker.kwargs["state"]), marker.kwargs.get("plan"))
        return
    try:
        board = _board(request.config)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    plan = _fixture_plan(re.sub(r"[^\w.-]+", "_", request.node.name))
    runner = Runner(
        plan, board, out_dir=default_out_dir(plan, board.name, Path(request.config.getoption("hartbeat_runs")))
    )
    session = Session(runner)
    try:
        with runner.lifecycle():
            yield session
            runner.conclude(_session_verdict(session, request.node))
    except TargetUnavailable as exc:
        # Recorded as the run's skip verdict by the lifecycle; the test is skipped, not failed.
        pytest.skip(f"cannot test: {exc}")


_CALL_FAILED = pytest.StashKey[bool]()
_STATES = pytest.StashKey[StateBoots]()


def _shared_console(request: pytest.FixtureRequest, state: str, plan: str | None) -> Iterator[Session]:
    """The console of the session's boot in ``state`` (booted now if none is on, or it broke)."""
    boots = request.config.stash.get(_STATES, None)
    if boots is None:
        try:
            board = _board(request.config)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        boots = request.config.stash[_STATES] = StateBoots(board, Path(request.config.getoption("hartbeat_runs")))
    try:
        boot = boots.session_for(state, plan)
    except TargetUnavailable as exc:
        pytest.skip(f"cannot test: {exc}")
    except StateNotReached as exc:
        pytest.fail(str(exc), pytrace=False)
    except ConfigError as exc:
        raise pytest.UsageError(f"@pytest.mark.hartbeat(state={state!r}): {exc}") from None
    yield boot.session
    boots.finished(boot, request.node.name, request.node.stash.get(_CALL_FAILED, False))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Switch off the board of the last shared boot and write its report."""
    boots = session.config.stash.get(_STATES, None)
    if boots is not None:
        boots.end()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed, for the session's report."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def _session_verdict(session: Session, node: pytest.Item) -> Verdict:
    """The console's own verdict, else the test's outcome: a failed assert is not a pass."""
    if session.failure is not None:
        return session.failure
    if node.stash.get(_CALL_FAILED, False):
        return Verdict(
            Kind.FAIL,
            f"python test {node.name} failed",
            milestone=session.runner.reached[-1].name if session.runner.reached else None,
        )
    return Verdict(Kind.PASS, "python test session", milestone=None)


@pytest.fixture
def target(console: Session) -> Any:
    """The powered-on target itself (QEMU target offers pause/resume/reset through QMP)."""
    return console.runner.target
