"""Run a testplan on a target: power on, watch the console milestone by milestone, decide.

Every run ends with a verdict and a report on disk, whatever happens: a missing target is a
``skip``, a broken one an ``error``, and an interrupt (SIGINT, SIGTERM, SIGHUP) still powers the
target off and writes the log and the report before it propagates.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from harness.autopsy.model import Autopsy, Location, Privilege
from harness.autopsy.render import headline as autopsy_headline
from harness.autopsy.symbols import Symbols, run_sources
from harness.autopsy.sysrq import ask as ask_sysrq
from harness.engine.console import (
    CONSOLE_FILES,
    Closed,
    Console,
    ConsoleFiles,
    Judged,
    Matched,
    Outcome,
    Quiet,
    TimedOut,
    Watch,
)
from harness.engine.patterns import PatternTooSlow
from harness.engine.verdict import LAST_LINES, Evidence, Kind, Step, Verdict, concluded, judge
from harness.errors import BoardLocked, ConfigError, HartbeatError, OutputError, TargetError, TargetUnavailable
from harness.model.plan import FailPattern, Milestone, Plan
from harness.model.preboot_finding import Level
from harness.model.sdcard import card_findings
from harness.probes.take import take_autopsy
from harness.records.report import FORMATS, write_report
from harness.records.results import MilestoneResult, RunResult
from harness.run.hold import HOLD_VERDICTS, hold_target, prepare_hold
from harness.run.setup import MissingImage, RunSetup
from harness.run.signals import INTERRUPTED, Interrupted, signals_deferred
from harness.run.status import StatusCallback, StatusEvent, StatusKind
from harness.run.step import PhaseEnd, StepWatches, phase_end, watches_for
from harness.ssh.hooks import board_step_hooks, deploy_for_board
from harness.targets import Target, make_target
from harness.targets.base import EndsOnGuestOff

# The verdicts at which the target may still be alive and stuck: the autopsy is taken then.
AUTOPSY_VERDICTS = frozenset({Kind.WEDGE, Kind.STALL, Kind.PANIC})
# ...and the SysRq probe, when the plan asks for it: a panicked kernel no longer answers.
SYSRQ_VERDICTS = frozenset({Kind.WEDGE, Kind.STALL})

# Lines kept after a panic line: the backtrace or register dump that follows it.
TRAILING_LINES = 15
# How far after an oops line a panic is looked for (within the oops pattern's `after` seconds): a
# RISC-V oops prints about 30 lines of registers and call trace before `Kernel panic`.
PANIC_SEARCH_LINES = 150


# The reasons of verdicts that the harness gave itself, not the console: replay leaves them out.
UNFINISHED = "run did not finish: hartbeat was killed"
HARNESS_ENDED = "run ended by "


class Stopped(HartbeatError):
    """The caller asked a run in progress to end (its stop event was set)."""


def default_out_dir(plan: Plan, board_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<time>-<plan>-<board>``, made unique if two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / f"{stamp}-{_slug(plan.name)}-{_slug(board_name)}"
    candidate, counter = base, 1
    while candidate.exists():
        counter += 1
        candidate = base.with_name(f"{base.name}-{counter}")
    return candidate


# What an `off` step records when hartbeat switched the target off through its power backend.
SWITCHED_OFF = "switched off by hartbeat"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


class Runner:
    """Runs one plan on one board profile (or its fallback) and writes the run folder."""

    def __init__(
        self,
        setup: RunSetup,
        *,
        out_dir: Path | None = None,
        status: StatusCallback | None = None,
        step_hooks: Mapping[str, Callable[[Milestone, Console], Verdict | None]] | None = None,
        stop: threading.Event | None = None,
        target: Target | None = None,
        hold: bool = False,
    ) -> None:
        # The run as set up (`prepare`); replaced once, by its fallback's, when the board is unavailable.
        self.setup = setup
        self.out_dir = out_dir or default_out_dir(setup.plan, setup.board.name)
        # `run --hold`: after a failing verdict, keep the target stopped for gdb until Ctrl-C.
        self.hold = hold
        self.status = status
        self.step_hooks = dict(step_hooks or {})
        # Set by a caller running boots in threads (bisect) to end them at once on a signal.
        self._stop = stop
        # A target given by the caller (a test's FakeTarget) instead of one built from the board.
        self._given_target = target
        self._target: Target | None = None
        self.console: Console | None = None
        self._files: ConsoleFiles | None = None
        self._reached: list[MilestoneResult] = []
        self._previous_t = 0.0
        # The console line the last milestone was on (-1: none yet): what came since is counted.
        self._milestone_line = -1
        self._events: list[str] = []
        self._started = ""
        self._wall_start = time.monotonic()
        # The run folder could not be created: there is nothing to write a report into.
        self._unwritable = False
        # _open() created the run folder (a refused run removes it again).
        self._made_folder = False
        self._verdict: Verdict | None = None
        self._autopsy: Autopsy | None = None
        self._symbols: Symbols | None = None
        self.result: RunResult | None = None

    @property
    def plan(self) -> Plan:
        """The plan the run watches with: the setup's, scaled to the board."""
        return self.setup.scaled_plan

    # -- target selection ---------------------------------------------------------------------

    def _select_target(self) -> Target:
        try:
            return self._prepare()
        except MissingImage:
            # This build's problem, not the board's: no fallback can fix it.
            raise
        except TargetUnavailable as exc:
            if not self.setup.board.fallback:
                raise
            self.setup = self.setup.fallen_back(str(exc))
            return self._prepare()

    def _check_fallback_card(self) -> None:
        """The card the fallback would boot, checked before it does (the board asked for was
        checked before the run): an Unmatched's card given to the Unmatched ends on QEMU's FU540,
        whose SPL stop would say nothing of why."""
        board = self.setup.board
        errors = [f for f in card_findings(board, self.setup.variables) if f.level is Level.ERROR]
        if errors:
            raise TargetError(f"fallback {board.name}: {errors[0].message}")

    def _prepare(self) -> Target:
        setup = self.setup
        setup.check_images()
        target = self._given_target or make_target(setup.board, {**setup.variables, "plan": setup.plan.name})
        target.check_available()
        if setup.fallback is not None:
            # Available, so it would boot now (an unavailable fallback is a skip, as before).
            self._check_fallback_card()
        if self.hold:
            prepare_hold(target)
        if not self.plan.autopsy.enabled:
            # A target that starts its autopsy's debugger at power-on (a serial board's OpenOCD)
            # is told not to: nothing halts its harts, even for a moment, for no autopsy.
            no_autopsy = getattr(target, "no_autopsy", None)
            if callable(no_autopsy):
                no_autopsy()
        self._target = target
        return target

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run the plan; always returns a result with a verdict and writes the report."""
        try:
            with self.lifecycle():
                self.conclude(self._steps())
        except (TargetUnavailable, TargetError, PatternTooSlow):
            pass  # the lifecycle recorded it as the run's skip or error verdict
        assert self.result is not None
        return self.result

    @contextmanager
    def lifecycle(self) -> Iterator[Console]:
        """Open the run, yield its console, and close it whatever happens.

        The body decides the verdict with :meth:`conclude`. An exception from opening or from
        the body becomes the verdict (:meth:`_abort_verdict`), is recorded, and propagates; the
        target is powered off and the report written in every case, and :attr:`result` set.
        """
        try:
            console = self._open()
            yield console
        except BoardLocked:
            # Refused before anything was powered: not a run, so no report (a CI dashboard must
            # not count an error for a board it never touched); the caller prints the refusal.
            self._discard()
            raise
        except BaseException as exc:
            # Interrupts, pytest-timeout, bugs: the evidence is still written before it propagates.
            self._close(self._abort_verdict(exc))
            raise
        self._close(self._verdict or Verdict(Kind.ERROR, "run ended without a verdict", milestone=self._last_name()))

    def conclude(self, verdict: Verdict) -> None:
        """Set the verdict the run's :meth:`lifecycle` closes with."""
        self._verdict = verdict

    def _open(self) -> Console:
        """Create the run folder, pick the target, open its console, power it on.

        Raises ``TargetUnavailable`` (skip) or ``TargetError`` (error); either way
        :meth:`_close` must follow to power off and write the report.
        """
        self._started = datetime.now().astimezone().isoformat(timespec="seconds")
        self._wall_start = time.monotonic()
        try:
            self._made_folder = not self.out_dir.exists()
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._files = ConsoleFiles.open(self.out_dir)
            # A run killed with SIGKILL cannot write its verdict at the end, so one is on disk first.
            write_report(self._result(Verdict(Kind.ERROR, UNFINISHED)))
        except OSError as exc:
            # Before anything is powered: a configuration problem (exit 2), not a verdict.
            self._unwritable = True
            raise OutputError(f"--out {self.out_dir}: cannot write the run folder: {_why(exc)}") from None
        target = self._select_target()
        board = self.setup.board
        # The profile that won (maybe the fallback) decides the SSH steps and the deploy.
        self.step_hooks = {**board_step_hooks(board, self.out_dir, self._last_name), **self.step_hooks}
        self.console = Console(target.console(), self._files, send_delay=board.send_delay)
        self.console.start()
        # After the console (and so the board's lock) is taken, before the power cycle boots it.
        deploy_for_board(board, self.setup.variables, self.out_dir)
        # A board's off phase (off, `off_time` for the rails to drain) comes before power-on: the
        # times and deadlines of the plan count from the moment the power comes back.
        switch_off = getattr(target, "switch_off_before_on", None)
        if callable(switch_off):
            switch_off()
        self.console.mark_power_on()
        target.power_on()
        self.console.mark_powered()
        return self.console

    def replay_on(self, console: Console) -> RunResult:
        """Run the plan's steps on a console that needs no target: a recording played back.

        The steps, the matching and the verdicts are the live run's own; nothing is written.
        """
        self._started = datetime.now().astimezone().isoformat(timespec="seconds")
        self.console = console
        try:
            verdict = self._steps()
        except PatternTooSlow as exc:
            # As live: a pattern that blew its search budget is the run's error.
            verdict = self._abort_verdict(exc)
        return self._result(verdict)

    def _abort_verdict(self, exc: BaseException) -> Verdict:
        """The verdict for a run cut short by an exception: skip, or error with the evidence."""
        if isinstance(exc, TargetUnavailable):
            return Verdict(Kind.SKIP, f"cannot test: {exc}")
        if isinstance(exc, TargetError):
            reason = f"target failed: {exc}"
        elif isinstance(exc, Interrupted | PatternTooSlow):
            reason = str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            reason = f"{INTERRUPTED}SIGINT"
        else:
            reason = f"{HARNESS_ENDED}{type(exc).__name__}: {exc}"
        return concluded(Kind.ERROR, reason, Step(self._waiting(), self._last_name()), self._evidence())

    def _close(self, verdict: Verdict) -> RunResult:
        """Power off, flush the console, and write the final report.

        A second Ctrl-C or SIGTERM while this runs is held until the report is written: an
        impatient user must not leave a board powered and a report saying "killed".
        """
        with signals_deferred():
            # The verdict is decided: the autopsy reads the harts while the target still runs.
            self._autopsy = self._take_autopsy(verdict)
            if self.hold and verdict.kind in HOLD_VERDICTS and self._target is not None:
                self._hold(verdict, self._target)
            self._power_off()
            if self.console is not None:
                self.console.stop()
            if self._files is not None:
                self._files.close()
            result = self._result(verdict)
            if not self._unwritable:
                try:
                    write_report(result)
                except OSError as exc:
                    # A full disk must not hide the verdict: it is still printed and returned.
                    print(f"hartbeat: cannot write the report in {self.out_dir}: {_why(exc)}", file=sys.stderr)
        self.result = result
        return result

    def _result(self, verdict: Verdict) -> RunResult:
        setup = self.setup
        fallback = setup.fallback
        return RunResult(
            plan=setup.scaled_plan,
            board=setup.board,
            verdict=verdict,
            milestones=tuple(self._reached),
            out_dir=self.out_dir,
            target=self._target.describe() if self._target else {"kind": setup.board.target},
            started=self._started,
            duration=time.monotonic() - self._wall_start,
            fallback=fallback.note if fallback else None,
            fallback_for=(fallback.asked, fallback.why) if fallback else None,
            fallback_exit=setup.fallback_exit,
            events=tuple(self._events) + self._clock_notes(),
            clock="guest" if self.console is not None and self.console.guest_clock else "host",
            autopsy=self._autopsy,
        )

    def _clock_notes(self) -> tuple[str, ...]:
        note = self.console.clock_note if self.console is not None else None
        return (note,) if note else ()

    def _discard(self) -> None:
        """Remove what :meth:`_open` wrote for a run that was refused (the folder too, if it made it)."""
        if self._files is not None:
            self._files.close()
            self._files = None
        for name in (*CONSOLE_FILES, *(name for name, _render in FORMATS)):
            (self.out_dir / name).unlink(missing_ok=True)
        if self._made_folder:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()

    def _take_autopsy(self, verdict: Verdict) -> Autopsy | None:
        """Where every hart is, for a wedge, a stall or a panic; ``None`` for other verdicts.

        Taken after the verdict and before power-off; its own duration is reported apart and it
        never takes more than the plan's ``[autopsy] limit`` (at most 5 s).
        """
        if verdict.kind not in AUTOPSY_VERDICTS or self._target is None or self.console is None:
            return None
        if not self.plan.autopsy.enabled:
            return None
        self._tell(StatusKind.NOTE, self.console.now(), f"{verdict.kind.value}: taking the autopsy")
        notes: list[str] = []
        symbols = self._run_symbols(notes)
        autopsy = take_autopsy(self._target, self.setup.board, self.plan.autopsy, symbols)
        if self.plan.autopsy.sysrq and verdict.kind in SYSRQ_VERDICTS:
            # After the harts are read (the probe's interrupts would move them); Linux answers on
            # the console, so its lines are in the log as everything the board printed.
            self._tell(StatusKind.NOTE, self.console.now(), f"{verdict.kind.value}: SysRq {self.plan.autopsy.sysrq}")
            if symbols is not None:
                symbols.load()

            def locate(address: int) -> Location | None:
                return symbols.locate(address, Privilege.S) if symbols is not None else None

            report = ask_sysrq(self.console, self._target, self.plan.autopsy.sysrq, locate)
            autopsy = replace(autopsy, sysrq=report)
        return replace(autopsy, notes=(*notes, *autopsy.notes)) if notes else autopsy

    def _run_symbols(self, notes: list[str]) -> Symbols | None:
        """The run's symbol files (image slots, ``[symbols]`` of board and plan, ``--symbols``),
        not read yet; a value that cannot be expanded is left out with a note, and image slots that
        cannot be listed leave none (``None``)."""
        if self._symbols is not None:
            return self._symbols
        given = self.setup.symbol_files(notes)
        try:
            self._symbols = Symbols(run_sources(self.setup.symbol_images(), given))
        except (ConfigError, OSError) as exc:
            # No names is still an autopsy: where the harts are, by address.
            notes.append(f"symbols: {exc}")
            return None
        return self._symbols

    def _hold(self, verdict: Verdict, target: Target) -> None:
        """``--hold``: the report on disk as it stands, then the target stopped until Ctrl-C."""
        if not self._unwritable:
            with contextlib.suppress(OSError):
                write_report(self._result(verdict))
        headline = f"{self.plan.name} on {self.setup.board.name}: {verdict.kind.value.upper()}"
        if self._autopsy is not None:
            headline += "\n  " + autopsy_headline(self._autopsy)
        symbols = self._run_symbols([])
        files = [source.path for source in symbols.sources] if symbols is not None else []
        hold_target(target, files, headline=headline)

    def _power_off(self) -> None:
        if self._target is None:
            return
        try:
            self._target.power_off()
        except Exception as exc:
            # Whatever a backend raises (paramiko, http.client), the report must still follow;
            # the verdict is already decided, and a failing switch is still worth saying.
            print(f"hartbeat: power off failed: {exc}", file=sys.stderr)

    @property
    def reached(self) -> tuple[MilestoneResult, ...]:
        """The milestones reached so far, in order."""
        return tuple(self._reached)

    @property
    def target(self) -> Target | None:
        """The target in use once :meth:`lifecycle` has picked it (the fallback, if it was needed)."""
        return self._target

    def _waiting(self) -> str | None:
        index = len(self._reached)
        return self.plan.milestones[index].name if index < len(self.plan.milestones) else None

    def _last_name(self) -> str | None:
        return self._reached[-1].name if self._reached else None

    def _evidence(self, lines: list[tuple[float, str]] | None = None, view: Judged | None = None) -> Evidence:
        """The console's state now, or as ``view`` (a silence or deadline decision) saw it: the
        time, ``lines`` (default the last ones) and its silence."""
        console = self.console
        if console is None:
            return Evidence(at=0.0, lines=tuple(lines or ()))
        if view is None:
            view = Judged(
                tuple(console.last_lines(LAST_LINES)) if lines is None else (),
                console.line_total,
                console.open_line_length,
                console.now(),
                console.quiet_for(),
            )
        total = view.line_total
        # Counted after the last milestone's line, or from power-on; the milestone's own
        # unfinished line (a prompt) is not output that came after it.
        first = self._milestone_line + 1 if self._milestone_line >= 0 else console.power_on_line
        return Evidence(
            at=view.now,
            lines=tuple(lines if lines is not None else view.lines[-LAST_LINES:]),
            quiet=view.quiet,
            printed=max(0, total - first),
            open_line=view.open_line_length if total >= first else 0,
        )

    def _tell(self, kind: StatusKind, at: float, text: str) -> None:
        """Hand the status callback, if there is one, an event stamped with console time ``at``."""
        if self.status is not None:
            self.status(StatusEvent(kind, f"[{at:7.1f}s] {text}"))

    def _tick(self, console: Console, waiting: str) -> Callable[[], None] | None:
        status, stop = self.status, self._stop
        if status is None and stop is None:
            return None

        def tick() -> None:
            if stop is not None and stop.is_set():
                raise Stopped("run stopped: the harness is shutting down")
            if status is not None:
                last = self._last_name() or "power-on"
                quiet = console.quiet_for()
                self._tell(StatusKind.WAITING, console.now(), f"{last} -> waiting for {waiting}, quiet {quiet:4.1f}s")

        return tick

    def _prompt_retry(
        self, console: Console, milestone: Milestone, prompt: Watch | None, tick: Callable[[], None] | None
    ) -> Callable[[], None] | None:
        """``tick``, plus typing the newline again while a typed command's prompt does not come.

        A UART with a small receive FIFO (the FU740's holds 8 bytes) can drop the newline: the
        command sits in the board's line buffer and the console stays quiet. Only a quiet console
        is retried, so output still arriving is never typed into.
        """
        every = self.setup.board.prompt_retry
        if every <= 0 or prompt is None or milestone.send is None:
            return tick
        last_typed = console.now()

        def retrying_tick() -> None:
            nonlocal last_typed
            if tick is not None:
                tick()
            quiet, now = console.quiet_for(), console.now()
            if quiet >= every and now - last_typed >= every:
                console.send(self.setup.board.newline)
                last_typed = now
                event = (
                    f"prompt_retry: at {now:.1f} s, no prompt for `{milestone.name}` and the console quiet "
                    f"{quiet:.1f} s: typed the newline again"
                )
                self._events.append(event)
                self._tell(StatusKind.NOTE, now, event)

        return retrying_tick

    def _steps(self) -> Verdict:
        for milestone in self.plan.milestones:
            failed = self.step(milestone)
            if failed is not None:
                return failed
        reason = f"all {len(self.plan.milestones)} milestones reached"
        if self.plan.until is not None:
            reason += f" (--until {self.plan.until}: the plan's {self.plan.left_out} later milestone(s) not run)"
        return Verdict(Kind.PASS, reason, milestone=self._last_name(), at=self.console.now() if self.console else 0.0)

    def step(self, milestone: Milestone) -> Verdict | None:
        """Run one milestone: type, then wait for it; ``None`` when reached, else the verdict.

        Python tests (the pytest ``console`` fixture) call this with milestones of their own,
        so they get the same wedge, stall and panic detection as a plan.
        """
        console = self.console
        if console is None:
            raise TargetError("the run is not open: step() runs inside lifecycle()")
        if milestone.off:
            command = self.setup.off_command()
            if command is None:
                return self._switch_off(milestone, console)
            milestone = replace(milestone, send=command)
        self._type(milestone, console)
        step_start = console.now()
        if milestone.ssh is not None:
            return self._ssh_step(milestone, console)
        watches = watches_for(self.setup, milestone, resets=len(self._reached) >= 2, guest_off=self._guest_off())
        return self._run_phases(console, milestone, watches, step_start)

    def _type(self, milestone: Milestone, console: Console) -> None:
        """What the milestone types before it waits: its line (with the board's newline), its keys."""
        if milestone.send is not None:
            console.send(self.setup.expand(milestone.send, f"{milestone.name}.send") + self.setup.board.newline)
        if milestone.keys is not None:
            console.send(self.setup.expand(milestone.keys, f"{milestone.name}.keys"))

    def _run_phases(
        self, console: Console, milestone: Milestone, watches: StepWatches, step_start: float
    ) -> Verdict | None:
        """Wait out each phase of the step; ``None`` when all ended as they should, else the verdict."""
        deadline = min(max(self._previous_t, step_start) + milestone.within, self.plan.timeout)
        for phase, watched in enumerate(watches.phases):
            waiting_exit = watches.waiting_exit(phase)
            outcome = console.wait_for(
                list(watched),
                deadline=deadline,
                # Going quiet is what a powered-off target does.
                silence=None if waiting_exit else (milestone.silence or self.plan.silence),
                quiet_from=step_start,
                on_tick=self._prompt_retry(console, milestone, watches.prompt, self._tick(console, milestone.name)),
            )
            end = phase_end(outcome, milestone, first=phase == 0, waiting_exit=waiting_exit)
            if end is PhaseEnd.REACHED and isinstance(outcome, Matched):
                self._record(milestone, outcome.t, outcome.line, outcome.groups, outcome.line_no)
            elif end is PhaseEnd.EXITED and isinstance(outcome, Closed):
                self._record(milestone, outcome.t, outcome.reason, {})
                return None
            elif end is PhaseEnd.GUEST_OFF and isinstance(self._target, EndsOnGuestOff):
                self._target.end_guest_off()
            elif end is PhaseEnd.FAILED:
                return self._failure(console, milestone, watches, outcome, step_start)
        return None

    def _guest_off(self) -> re.Pattern[str] | None:
        """The power-off line of a target that can end itself at it (QEMU, the emulator); a replay
        has no target and waits for the recorded end of the console, as live."""
        target = self._target
        return target.guest_off if isinstance(target, EndsOnGuestOff) else None

    def _switch_off(self, milestone: Milestone, console: Console) -> Verdict | None:
        """The end of the test on a board that cannot power itself off: its power backend does it."""
        target = self._target
        how = "through its power backend" if target is not None else "(no target)"
        if target is not None:
            try:
                target.power_off()
            except Exception as exc:
                # The test is over either way; a switch that failed is still the run's error.
                return Verdict(Kind.ERROR, f"power off failed: {exc}", milestone=self._last_name(), at=console.now())
        # When the backend returned, recorded so that a replay (no target) takes the same time.
        self._record(milestone, console.mark_switched_off(), f"{SWITCHED_OFF} {how}", {})
        return None

    def _ssh_step(self, milestone: Milestone, console: Console) -> Verdict | None:
        hook = self.step_hooks.get("ssh")
        if hook is None:
            raise TargetError(f"milestone {milestone.name!r} runs `ssh` but the board has no [ssh] section")
        failed = hook(milestone, console)
        if failed is None:
            self._record(milestone, console.now(), "", {})
        return failed

    def _record(
        self, milestone: Milestone, t: float, line: str, captures: dict[str, str], line_no: int | None = None
    ) -> None:
        console = self.console
        host_t = console.host_time(t) if console is not None and console.guest_clock else None
        self._reached.append(MilestoneResult(milestone.name, t, t - self._previous_t, line, captures, host_t))
        self._previous_t = t
        if self.console is not None:
            self._milestone_line = line_no if line_no is not None else self.console.line_total - 1
        self._tell(StatusKind.MILESTONE, t, f"reached {milestone.name}")

    def _failure(
        self, console: Console, milestone: Milestone, watches: StepWatches, outcome: Outcome, step_start: float
    ) -> Verdict:
        """Gather the console's evidence for an outcome that is not the milestone, and judge it."""
        step = Step(
            milestone=milestone.name,
            reached=self._last_name(),
            started=step_start,
            within=milestone.within,
            plan_timeout=self.plan.timeout,
            expect=milestone.expect.pattern if milestone.expect else None,
            silence=milestone.silence or self.plan.silence,
        )
        fail = watches.fails.get(outcome.watch) if isinstance(outcome, Matched) else None
        if isinstance(outcome, Matched) and fail is not None:
            # The reader is usually ahead of the matcher: take the lines around the panic line
            # itself, the ones before it now (before a backtrace burst pushes them out of the ring).
            before = console.lines_around(outcome.line_no, LAST_LINES, 0)
            console.drain(quiet=0.5, limit=fail.after)
            trailing = console.lines_around(outcome.line_no, 1, TRAILING_LINES)[1:]
            oops = outcome
            if fail.kind is Kind.OOPS:
                # An oops says the kernel went on; if it panicked in the lines logged after it
                # (past a register dump and call trace: all the ring holds within `after`), it did
                # not, and the panic's line and the lines around it are the evidence.
                logged = console.lines_around(oops.line_no, 1, PANIC_SEARCH_LINES)[1:]
                outcome, fail = _panic_after(oops, fail, logged, watches.fails)
                if outcome is not oops:
                    before = console.lines_around(outcome.line_no, LAST_LINES, 0)
                    trailing = console.lines_around(outcome.line_no, 1, TRAILING_LINES)[1:]
            # The verdict is when its line came, not when the wait for the lines after it ended:
            # that wait is in host time, and on a guest clock an idle guest's time runs on
            # meanwhile (a FAIL line at 30.65 guest s was reported at 160.3 s).
            evidence = replace(self._evidence(before + trailing), at=outcome.t)
            verdict = judge(outcome, step, evidence, fail_kind=fail.kind)
            if outcome is not oops:
                # The oops it followed may be further back than the last lines: the reason names it.
                verdict = replace(verdict, reason=f"{verdict.reason}; after the oops at {oops.t:.3f} s: {oops.line}")
            return verdict
        if isinstance(outcome, Matched):
            return judge(outcome, step, self._evidence(console.lines_through(outcome, LAST_LINES)))
        if isinstance(outcome, Quiet | TimedOut) and console.judged is not None:
            return judge(outcome, step, self._evidence(view=console.judged))
        return judge(outcome, step, self._evidence())


def _panic_after(
    oops: Matched, fail: FailPattern, trailing: list[tuple[float, str]], fails: Mapping[Watch, FailPattern]
) -> tuple[Matched, FailPattern]:
    """The first of the ``trailing`` lines (those after ``oops``'s, logged within its pattern's
    ``after`` seconds) that a ``panic`` fail pattern matches, as the outcome to judge; else
    ``oops`` itself."""
    panics = [(watch, pattern) for watch, pattern in fails.items() if pattern.kind is Kind.PANIC]
    for offset, (t, line) in enumerate(trailing, start=1):
        if t > oops.t + fail.after:
            break
        for watch, pattern in panics:
            match = pattern.regex.search(line)
            if match is not None:
                return Matched(watch, match, line, t, oops.line_no + offset), pattern
    return oops, fail


def _why(exc: OSError) -> str:
    """``No space left on device`` or ``Read-only file system`` (the errno's text and the path)."""
    text = exc.strerror or str(exc)
    return f"{text} ({exc.filename})" if exc.filename else text
