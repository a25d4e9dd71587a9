"""One boot for many tests: pytest tests that declare the same start state share a boot.

``@pytest.mark.hartbeat(state="uboot-shell")`` asks for the board booted by the plan of that name
(``testplans/uboot-shell.toml``; ``plan="path.toml"`` names another) and left on. The first test
in a state boots; the next tests in the same state use that boot, as labgrid's strategy
``transition()`` does. The boot ends (power off, report written) when a test wants another state,
when the session ends, or when a test breaks the board: a wedge, stall, panic or reset seen by
the console, or the console closing. The next test then boots again.

One board runs one boot at a time, so a state change powers the board off before the next boot.
With ``--hartbeat-boards`` a boot holds its board's lock while it is on (the board's worker waits).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from harness.engine.verdict import Kind, Verdict
from harness.model.board import Board, resolve
from harness.model.plan import Plan, load_plan
from harness.pytest_plugin.live_console import Session
from harness.run.runner import Runner, default_out_dir
from harness.run.setup import prepare


class StateNotReached(Exception):
    """The state's plan did not pass: every test asking for that state fails with its verdict."""

    def __init__(self, state: str, verdict: Verdict) -> None:
        self.verdict = verdict
        super().__init__(f"state {state!r} not reached: {verdict.summary()}")


@dataclass
class SharedBoot:
    """A boot that reached ``state`` and the tests that used it."""

    state: str
    runner: Runner
    session: Session
    stack: contextlib.ExitStack
    tests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        """The console saw a failure (wedge, panic, reset ...) or ended: the board needs a new boot."""
        console = self.session.console
        return self.session.failure is not None or console is None or console.closed is not None

    def close(self) -> None:
        """Power off and write the boot's report: the first failure, else which tests used it."""
        if self.session.failure is not None:
            verdict = self.session.failure
        elif self.failed:
            verdict = Verdict(Kind.FAIL, f"python tests failed on state {self.state}: {', '.join(self.failed)}")
        else:
            shared = f"state {self.state} shared by {len(self.tests)} test(s): {', '.join(self.tests)}"
            verdict = Verdict(Kind.PASS, shared)
        self.runner.conclude(verdict)
        self.stack.close()


class StateBoots:
    """The session's boots by state; at most one is on at a time (one board)."""

    def __init__(self, board: Board, runs: Path, lock: threading.Lock | None = None) -> None:
        self.board = board
        self.runs = runs
        self.lock = lock
        self.current: SharedBoot | None = None
        self.boots: list[Path] = []

    def session_for(self, state: str, plan_name: str | None = None) -> SharedBoot:
        """The boot in ``state``, booting the board (again) when needed."""
        current = self.current
        if current is not None and (current.state != state or current.broken):
            self.end()
        if self.current is None:
            self.current = self._boot(state, load_plan(resolve(plan_name or state, "testplans")))
        return self.current

    def _boot(self, state: str, plan: Plan) -> SharedBoot:
        runner = Runner(prepare(plan, self.board), out_dir=default_out_dir(plan, self.board.name, self.runs))
        stack = contextlib.ExitStack()
        if self.lock is not None:
            # Released last, when the boot's stack closes (after power-off).
            stack.enter_context(self.lock)
        try:
            # An unavailable target propagates from here (the lifecycle has written its skip).
            stack.enter_context(runner.lifecycle())
        except BaseException:
            stack.close()
            raise
        self.boots.append(runner.out_dir)
        boot = SharedBoot(state, runner, Session(runner), stack)
        for milestone in runner.plan.milestones:
            if milestone.off:
                continue  # a state is left on for its tests; it goes off when the state is released
            failed = runner.step(milestone)
            if failed is not None:
                boot.session.failure = failed
                boot.close()
                raise StateNotReached(state, failed)
        return boot

    def finished(self, boot: SharedBoot, test: str, failed: bool) -> None:
        """Record a test's use of ``boot``; a board it broke is switched off now."""
        boot.tests.append(test)
        if failed:
            boot.failed.append(test)
        if boot.broken:
            self.end()

    def end(self) -> None:
        """End the current boot, if any."""
        current, self.current = self.current, None
        if current is not None:
            current.close()
