"""Run a testplan on a target: power on, watch the console milestone by milestone, decide.

Every run ends with a verdict and a report on disk, whatever happens: a missing target is a
``skip``, a broken one an ``error``, and an interrupt (SIGINT, SIGTERM, SIGHUP) still powers the
target off and writes the log and the report before it propagates.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.board import Board, load_board
from harness.console import Closed, Console, ConsoleFiles, Matched, Quiet, TimedOut, Watch
from harness.errors import HartbeatError, TargetError, TargetUnavailable
from harness.plan import Milestone, Plan
from harness.report import write_report
from harness.targets import Target, make_target
from harness.verdict import Kind, Verdict, last_meaningful

LAST_LINES = 20
# Slots whose value is a word, not a file, mean "use the target's built-in default".
NOT_A_FILE = {"none", "default", ""}


class Interrupted(HartbeatError):
    """The harness received a termination signal; the run is recorded as ``error``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"run interrupted by {signal.Signals(signum).name}")


@contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` in the main thread for the duration."""

    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class MilestoneResult:
    """A milestone reached: when, how long after the previous one, and what it captured."""

    name: str
    t: float
    delta: float
    line: str
    captures: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """Everything a run produced; ``report.json`` is this, serialised."""

    plan: Plan
    board: Board
    verdict: Verdict
    milestones: tuple[MilestoneResult, ...]
    out_dir: Path
    target: dict[str, Any]
    started: str
    duration: float
    fallback: str | None = None


StatusCallback = Callable[[str], None]


def default_out_dir(plan: Plan, board_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<time>-<plan>-<board>``, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / f"{stamp}-{_slug(plan.name)}-{_slug(board_name)}"
    candidate, counter = base, 1
    while candidate.exists():
        counter += 1
        candidate = base.with_name(f"{base.name}-{counter}")
    return candidate


def run_variables(plan: Plan, board: Board, given: Mapping[str, str]) -> dict[str, str]:
    """The variables a run expands ``{name}`` with.

    The plan's ``[variables]`` are defaults that the board's own ``[variables]`` override;
    values from the command line override both. ``seed`` is random per run unless given.
    """
    variables = {k: v for k, v in plan.variables.items() if k not in board.variables}
    variables.update(given)
    variables.setdefault("seed", str(random.randrange(1 << 31)))
    return variables


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class Runner:
    """Runs one plan on one board profile (or its fallback) and writes the run folder."""

    def __init__(
        self,
        plan: Plan,
        board: Board,
        *,
        out_dir: Path | None = None,
        variables: Mapping[str, str] | None = None,
        image_overrides: tuple[tuple[str, str], ...] = (),
        status: StatusCallback | None = None,
        step_hooks: Mapping[str, Callable[[Milestone, Console], Verdict | None]] | None = None,
    ) -> None:
        self.plan = plan
        self.board = board
        self.out_dir = out_dir or default_out_dir(plan, board.name)
        self.variables = run_variables(plan, board, variables or {})
        self.image_overrides = image_overrides
        self.status = status
        self.step_hooks = dict(step_hooks or {})
        self._reached: list[MilestoneResult] = []
        self._target: Target | None = None
        self._fallback: str | None = None

    # -- target selection ---------------------------------------------------------------------

    def _select_target(self) -> Target:
        board = self.board
        try:
            return self._prepare(board)
        except TargetUnavailable as exc:
            if not board.fallback:
                raise
            fallback = load_board(board.fallback, images=self.image_overrides)
            self._fallback = f"{board.name} unavailable ({exc}); ran on fallback board {fallback.name}"
            self.board = fallback
            return self._prepare(fallback)

    def _prepare(self, board: Board) -> Target:
        for slot, value in board.images.items():
            path = board.expand(value, f"images.{slot}", self.variables)
            if path.lower() in NOT_A_FILE:
                continue
            if not Path(path).is_file():
                raise TargetUnavailable(f"image slot {slot!r}: {path} does not exist")
        target = make_target(board, self.variables)
        target.check_available()
        self._target = target
        return target

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run the plan; always returns a result with a verdict and writes the report."""
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        wall_start = time.monotonic()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        files = ConsoleFiles.open(self.out_dir)
        # A run killed with SIGKILL cannot write its verdict at the end, so one is on disk first.
        write_report(self._result(Verdict(Kind.ERROR, "run did not finish: hartbeat was killed"), started, 0.0))
        console: Console | None = None
        interrupted: Interrupted | KeyboardInterrupt | None = None
        try:
            target = self._select_target()
            self.plan = self.plan.scaled(self.board.time_scale)
            console = Console(target.console(), files, send_delay=self.board.send_delay)
            console.start()
            console.mark_power_on()
            target.power_on()
            verdict = self._steps(console)
        except TargetUnavailable as exc:
            verdict = Verdict(Kind.SKIP, f"cannot test: {exc}")
        except (Interrupted, KeyboardInterrupt) as exc:
            interrupted = exc
            verdict = self._ended(
                console, Kind.ERROR, str(exc) or "run interrupted by SIGINT", waiting_for=self._waiting()
            )
        except TargetError as exc:
            verdict = self._ended(console, Kind.ERROR, f"target failed: {exc}", waiting_for=self._waiting())
        finally:
            self._power_off()
            if console is not None:
                console.stop()
            files.close()
        result = self._result(verdict, started, time.monotonic() - wall_start)
        write_report(result)
        if interrupted is not None:
            raise interrupted
        return result

    def _result(self, verdict: Verdict, started: str, duration: float) -> RunResult:
        return RunResult(
            plan=self.plan,
            board=self.board,
            verdict=verdict,
            milestones=tuple(self._reached),
            out_dir=self.out_dir,
            target=self._target.describe() if self._target else {"kind": self.board.target},
            started=started,
            duration=duration,
            fallback=self._fallback,
        )

    def _power_off(self) -> None:
        if self._target is None:
            return
        try:
            self._target.power_off()
        except HartbeatError as exc:
            # The verdict is already decided; a failing switch is still worth the log.
            print(f"hartbeat: power off failed: {exc}")

    def _waiting(self) -> str | None:
        index = len(self._reached)
        return self.plan.milestones[index].name if index < len(self.plan.milestones) else None

    def _last_name(self) -> str | None:
        return self._reached[-1].name if self._reached else None

    def _ended(
        self,
        console: Console | None,
        kind: Kind,
        reason: str,
        *,
        waiting_for: str | None = None,
        key_line: str | None = None,
        captures: dict[str, str] | None = None,
        lines: list[tuple[float, str]] | None = None,
    ) -> Verdict:
        if lines is None:
            lines = console.last_lines(LAST_LINES) if console else []
        return Verdict(
            kind=kind,
            reason=reason,
            milestone=self._last_name(),
            waiting_for=waiting_for,
            at=console.now() if console else 0.0,
            last_lines=tuple(lines),
            key_line=key_line if key_line is not None else last_meaningful(lines),
            captures=captures or {},
        )

    def _tick(self, console: Console, waiting: str) -> Callable[[], None] | None:
        if self.status is None:
            return None
        status = self.status

        def tick() -> None:
            last = self._last_name() or "power-on"
            status(f"[{console.now():7.1f}s] {last} -> waiting for {waiting}, quiet {console.quiet_for():4.1f}s")

        return tick

    def _steps(self, console: Console) -> Verdict:
        plan = self.plan
        previous_t = 0.0
        fails = [Watch(f.name, "fail", f.regex, partial=False) for f in plan.fails]
        resets = [Watch(f"reset:{r.pattern}", "reset", r, partial=False) for r in plan.resets]
        for index, milestone in enumerate(plan.milestones):
            if milestone.send is not None:
                console.send(
                    self.board.expand(milestone.send, f"{milestone.name}.send", self.variables) + self.board.newline
                )
            if milestone.keys is not None:
                console.send(self.board.expand(milestone.keys, f"{milestone.name}.keys", self.variables))
            step_start = console.now()
            if milestone.ssh is not None:
                hook = self.step_hooks.get("ssh")
                if hook is None:
                    raise TargetError(f"milestone {milestone.name!r} runs `ssh` but the board has no [ssh] section")
                failed = hook(milestone, console)
                if failed is not None:
                    return failed
                self._record(milestone, console.now(), previous_t, "", {})
                previous_t = console.now()
                continue
            deadline = min(max(previous_t, step_start) + milestone.within, plan.timeout)
            silence = milestone.silence or plan.silence
            watches = list(fails)
            # A banner seen again once a later milestone was reached means the board reset.
            if index >= 2:
                watches += resets
            expect_watch = Watch(milestone.name, "expect", milestone.expect) if milestone.expect else None
            if expect_watch:
                watches.append(expect_watch)
            if milestone.prompt is not None:
                watches.append(Watch(f"{milestone.name}:prompt", "prompt", milestone.prompt))
            wait_exit = expect_watch is None
            while True:
                outcome = console.wait_for(
                    watches,
                    deadline=deadline,
                    silence=None if wait_exit and milestone.exits else silence,
                    quiet_from=step_start,
                    on_tick=self._tick(console, milestone.name),
                )
                if isinstance(outcome, Matched) and outcome.watch.kind == "expect":
                    self._record(milestone, outcome.t, previous_t, outcome.line, outcome.groups)
                    previous_t = outcome.t
                    if milestone.prompt is not None:
                        # The check passed; the step ends when the prompt is back.
                        watches = [*fails, Watch(f"{milestone.name}:prompt", "prompt", milestone.prompt)]
                        if index >= 2:
                            watches += resets
                        expect_watch = None
                        continue
                    if milestone.exits:
                        watches = list(fails)
                        wait_exit = True
                        continue
                    break
                if isinstance(outcome, Matched) and outcome.watch.kind == "prompt":
                    if expect_watch is not None:
                        return self._ended(
                            console,
                            Kind.FAIL,
                            f"check `{milestone.name}` failed: the prompt came back without "
                            f"/{milestone.expect.pattern if milestone.expect else ''}/ in the output",
                            waiting_for=milestone.name,
                        )
                    break
                if isinstance(outcome, Closed) and wait_exit and milestone.exits:
                    if milestone.expect is None:
                        self._record(milestone, outcome.t, previous_t, outcome.reason, {})
                        previous_t = outcome.t
                    break
                return self._failure(console, milestone, outcome, step_start)
        return Verdict(
            Kind.PASS,
            f"all {len(plan.milestones)} milestones reached",
            milestone=self._last_name(),
            at=console.now(),
        )

    def _record(self, milestone: Milestone, t: float, previous_t: float, line: str, captures: dict[str, str]) -> None:
        self._reached.append(MilestoneResult(milestone.name, t, t - previous_t, line, captures))
        if self.status:
            self.status(f"[{t:7.1f}s] reached {milestone.name}")

    def _failure(self, console: Console, milestone: Milestone, outcome: Any, step_start: float) -> Verdict:
        last = self._last_name()
        after = f"after milestone `{last}`" if last else "before the first milestone"
        if isinstance(outcome, Matched) and outcome.watch.kind == "fail":
            fail = next(f for f in self.plan.fails if f.name == outcome.watch.name)
            console.drain(quiet=0.5, limit=fail.after)
            lines = _around(console.last_lines(200), outcome.t, outcome.line)
            reason = outcome.groups.get("reason")
            detail = f": {reason}" if reason else ""
            return self._ended(
                console,
                Kind.PANIC,
                f"{fail.name}{detail} {after}, while waiting for `{milestone.name}` (line: {outcome.line.strip()})",
                waiting_for=milestone.name,
                key_line=outcome.line,
                captures=outcome.groups,
                lines=lines,
            )
        if isinstance(outcome, Matched) and outcome.watch.kind == "reset":
            return self._ended(
                console,
                Kind.RESET,
                f"unexpected reset {after}: the boot banner came back ({outcome.line.strip()})",
                waiting_for=milestone.name,
                key_line=outcome.line,
            )
        if isinstance(outcome, Closed):
            return self._ended(
                console,
                Kind.ERROR,
                f"target ended {after}, while waiting for `{milestone.name}`: {outcome.reason}",
                waiting_for=milestone.name,
            )
        quiet = console.quiet_for()
        lines = console.last_lines(LAST_LINES)
        tail = _tail_text(lines)
        nothing_this_step = quiet >= outcome.t - step_start - 0.05
        if isinstance(outcome, Quiet) or nothing_this_step:
            return self._ended(
                console,
                Kind.WEDGE,
                f"wedged {after}; console quiet for {quiet:.1f} s while waiting for `{milestone.name}`; "
                f"last lines were: {tail}",
                waiting_for=milestone.name,
                lines=lines,
            )
        assert isinstance(outcome, TimedOut)
        limit = "the plan timeout" if outcome.t >= self.plan.timeout else f"its {milestone.within:g} s deadline"
        return self._ended(
            console,
            Kind.STALL,
            f"stalled {after}: output continues but `{milestone.name}` did not come within {limit}; "
            f"last lines were: {tail}",
            waiting_for=milestone.name,
            lines=lines,
        )


def _tail_text(lines: list[tuple[float, str]], count: int = 3) -> str:
    shown = [line.strip() for _t, line in lines if line.strip()][-count:]
    return " | ".join(shown) if shown else "(nothing)"


def _around(lines: list[tuple[float, str]], t: float, text: str) -> list[tuple[float, str]]:
    """The lines before the panic line and the trailing capture after it."""
    for index in range(len(lines) - 1, -1, -1):
        if lines[index] == (t, text):
            return lines[max(0, index - LAST_LINES + 1) : index + 11]
    return lines[-LAST_LINES:]
