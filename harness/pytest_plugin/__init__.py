"""pytest plugin: testplans as test items, and ``target``/``console`` fixtures.

``pytest testplans/ --board qemu-virt`` collects every plan as one item whose verdict decides
the outcome (a skip verdict skips). Python tests use the ``console`` fixture::

    def test_version(console):
        console.expect_milestone(r"=> $", "prompt", send="")
        assert console.run("version").status == 0

Tests marked ``@pytest.mark.hartbeat(state="uboot-shell")`` share one boot per state (see
:mod:`harness.pytest_plugin.states`). ``--hartbeat-boards a,b`` deals the items to several boards and
runs the plans of different boards at the same time (see :mod:`harness.pytest_plugin.shards`).

pytest-timeout is the outer guard: each plan item gets the plan's own timeout plus a margin.

Layer: pytest. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes, records,
run, analysis, bisect.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.engine.verdict import Kind, Verdict
from harness.errors import ConfigError, TargetUnavailable
from harness.model.board import Board, parse_assignments
from harness.model.plan import DEFAULT_SILENCE, Plan, load_plan, standard_fails
from harness.pytest_plugin.live_console import Session
from harness.pytest_plugin.shards import Shards
from harness.pytest_plugin.states import StateBoots, StateNotReached
from harness.records.report import summary
from harness.records.results import RunResult
from harness.run.board_loader import load_board, load_fallback
from harness.run.runner import Runner, default_out_dir
from harness.run.setup import prepare
from harness.targets import host_time_scale

# Time for power-off and the report on top of the plan's own timeout, before pytest-timeout fires.
TIMEOUT_MARGIN = 60.0
_PLAN_MARK = re.compile(r"^\s*\[\[milestone\]\]", re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's options."""
    group = parser.getgroup("hartbeat", "hartbeat boot-milestone testing")
    group.addoption("--board", dest="hartbeat_board", help="board profile (name or path) to run testplans on")
    group.addoption(
        "--hartbeat-boards",
        dest="hartbeat_boards",
        metavar="A,B[,C]",
        help="several board profiles: the items are dealt to them round-robin and the boards run at the same time",
    )
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


def _load(config: pytest.Config, name: str) -> Board:
    return load_board(
        name,
        overrides=parse_assignments(config.getoption("hartbeat_set"), "--hartbeat-set"),
        images=parse_assignments(config.getoption("hartbeat_image"), "--hartbeat-image"),
    )


def _board_names(config: pytest.Config) -> list[str]:
    """The ``--hartbeat-boards`` names; empty without the option."""
    given = config.getoption("hartbeat_boards")
    if given is None:
        return []
    if config.getoption("hartbeat_board"):
        raise pytest.UsageError("hartbeat: give --board NAME or --hartbeat-boards A,B, not both")
    names = [name.strip() for name in str(given).split(",") if name.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise pytest.UsageError(f"hartbeat: --hartbeat-boards wants two or more different boards, got {given!r}")
    return names


def _board(config: pytest.Config, item: pytest.Item | None = None) -> Board:
    """The ``--board`` board, or with ``--hartbeat-boards`` the board ``item`` was dealt to."""
    shards = config.stash.get(_SHARDS, None)
    if shards is not None:
        return shards.board_for(item.nodeid if item is not None else "")
    name = config.getoption("hartbeat_board")
    if not name:
        raise pytest.UsageError("hartbeat: give --board NAME to run testplans or use the target/console fixtures")
    return _load(config, name)


def _uses_boards(config: pytest.Config) -> bool:
    return bool(config.getoption("hartbeat_board") or config.getoption("hartbeat_boards"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.toml`` testplans, only when ``--board`` or ``--hartbeat-boards`` is given."""
    if file_path.suffix != ".toml" or not _uses_boards(parent.config):
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
        """Boot, watch, decide (with ``--hartbeat-boards``: wait for this item's run on its board)."""
        board = _board(self.config, self)
        if not self.plan.runs_on(board.name):
            pytest.skip(f"plan {self.plan.name} is written for {self.plan.written_for()}, not {board.name}")
        shards = self.config.stash.get(_SHARDS, None)
        if shards is not None and shards.queued(self.nodeid):
            # A shared boot left on would keep its board's lock while this item waits for a worker.
            _end_shared_boots(self.config)
            result = shards.result(self.nodeid)
        else:
            result = self.run_on(board, None)
        self.user_properties.append(("board", result.board.name))
        self.user_properties.append(("duration", f"{result.duration:.3f}"))
        self.user_properties.append(("verdict", result.verdict.kind.value))
        self.user_properties.append(("report", str(result.out_dir / "report.json")))
        if result.verdict.kind is Kind.SKIP:
            pytest.skip(result.verdict.reason)
        if not result.verdict.passed:
            raise PlanFailed(result)

    def run_on(self, board: Board, stop: threading.Event | None) -> RunResult:
        """Run the plan on ``board`` (from a shard's worker thread when sharded)."""
        variables = dict(parse_assignments(self.config.getoption("hartbeat_var"), "--hartbeat-var"))
        runs = Path(self.config.getoption("hartbeat_runs"))
        images = parse_assignments(self.config.getoption("hartbeat_image"), "--hartbeat-image")
        setup = prepare(self.plan, board, variables=variables, images=images)
        runner = Runner(setup, out_dir=default_out_dir(self.plan, board.name, runs), stop=stop)
        return runner.run()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The verdict summary and last lines instead of a traceback."""
        if isinstance(excinfo.value, PlanFailed):
            return summary(excinfo.value.result)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the item comes from, for pytest's report."""
        return self.path, None, f"testplan {self.plan.name}"


def _scale(config: pytest.Config) -> float:
    """Host seconds per plan second at most (the slowest board's with ``--hartbeat-boards``), for the
    item timeouts: a board judged on its guest clock may take its emulator's slowdown in host time."""
    try:
        names = _board_names(config) or [config.getoption("hartbeat_board")]
        return max(worst_host_scale(_load(config, name)) for name in names) if _uses_boards(config) else 1.0
    except ConfigError:
        return 1.0


def worst_host_scale(board: Board) -> float:
    """``host_time_scale`` of ``board`` or of its fallback, whichever is larger: the item runs on
    the fallback when the board is unavailable (a QEMU board without QEMU runs on the emulator,
    whose plan second may take 25 host seconds), so its timeout must allow for either."""
    scale = host_time_scale(board)
    if board.fallback is not None:
        with contextlib.suppress(ConfigError):
            scale = max(scale, host_time_scale(load_fallback(board)))
    return scale


_SHARDS = pytest.StashKey[Shards]()


def _uses_console(item: pytest.Item) -> bool:
    return "console" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """With ``--hartbeat-boards``: deal the hartbeat items to the boards and start the plans' runs.

    Here rather than at the end of collection so that ``--collect-only``, or collection errors
    that end the session, boot nothing; pytest's own loop then runs the items.
    """
    names = _board_names(session.config)
    collection_failed = session.testsfailed and not session.config.option.continue_on_collection_errors
    if not names or collection_failed or session.config.option.collectonly:
        return
    try:
        boards = [_load(session.config, name) for name in names]
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    shards = session.config.stash[_SHARDS] = Shards(boards)
    items = [item for item in session.items if isinstance(item, PlanItem) or _uses_console(item)]
    plans = {item.nodeid: item.plan for item in items if isinstance(item, PlanItem)}
    shards.assign(
        [item.nodeid for item in items],
        lambda item_id, board: item_id not in plans or plans[item_id].runs_on(board.name),
    )
    for item in items:
        if isinstance(item, PlanItem) and item.plan.runs_on(shards.board_for(item.nodeid).name):
            shards.submit(item.nodeid, item.run_on)


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
        board = _board(request.config, request.node)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    request.node.user_properties.append(("board", board.name))
    plan = _fixture_plan(re.sub(r"[^\w.-]+", "_", request.node.name))
    runner = Runner(
        prepare(plan, board), out_dir=default_out_dir(plan, board.name, Path(request.config.getoption("hartbeat_runs")))
    )
    session = Session(runner)
    shards = request.config.stash.get(_SHARDS, None)
    with contextlib.ExitStack() as board_lock:
        if shards is not None:
            # The board's worker may be running one of its plans: this boot waits for it to end.
            _end_shared_boots(request.config)
            board_lock.enter_context(shards.locks[board.name])
        try:
            with runner.lifecycle():
                yield session
                runner.conclude(_session_verdict(session, request.node))
        except TargetUnavailable as exc:
            # Recorded as the run's skip verdict by the lifecycle; the test is skipped, not failed.
            pytest.skip(f"cannot test: {exc}")


_CALL_FAILED = pytest.StashKey[bool]()
# The shared-state boots, one StateBoots per board.
_STATES = pytest.StashKey[dict[str, StateBoots]]()


def _end_shared_boots(config: pytest.Config) -> None:
    for boots in config.stash.get(_STATES, {}).values():
        boots.end()


def _shared_console(request: pytest.FixtureRequest, state: str, plan: str | None) -> Iterator[Session]:
    """The console of the session's boot in ``state`` (booted now if none is on, or it broke)."""
    try:
        board = _board(request.config, request.node)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    request.node.user_properties.append(("board", board.name))
    by_board = request.config.stash.setdefault(_STATES, {})
    boots = by_board.get(board.name)
    if boots is None:
        shards = request.config.stash.get(_SHARDS, None)
        lock = shards.locks[board.name] if shards is not None else None
        runs = Path(request.config.getoption("hartbeat_runs"))
        boots = by_board[board.name] = StateBoots(board, runs, lock=lock)
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
    """Switch off the boards of the last shared boots and stop the shards' workers (also on Ctrl-C)."""
    _end_shared_boots(session.config)
    shards = session.config.stash.get(_SHARDS, None)
    if shards is not None:
        shards.close()


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
