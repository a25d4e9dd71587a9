"""Interactive use of a running target from Python: the pytest ``console`` fixture.

A :class:`Session` drives the same :class:`~harness.run.runner.Runner` a testplan does, one ad hoc
milestone at a time, so Python tests get the same wedge, stall and panic verdicts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from harness.engine.console import Console
from harness.engine.verdict import Verdict
from harness.model.plan import DEFAULT_WITHIN, Milestone
from harness.records.results import MilestoneResult
from harness.run.runner import Runner


class MilestoneFailed(AssertionError):
    """A milestone expected from Python did not come; carries the verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        lines = "\n".join(f"  [{t:10.3f}] {line}" for t, line in verdict.last_lines)
        super().__init__(f"{verdict.summary()}\n  signature: {verdict.signature}\n{lines}")


@dataclass(frozen=True)
class CommandResult:
    """What a command printed (without its echo and the status marker) and its exit status."""

    command: str
    output: str
    status: int


class Session:
    """Type into the console and wait for lines, with the harness's hang detection."""

    _markers = itertools.count(1)

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.failure: Verdict | None = None

    @property
    def console(self) -> Console | None:
        """The underlying console engine."""
        return self.runner.console

    def _step(self, milestone: Milestone) -> MilestoneResult:
        verdict = self.runner.step(milestone)
        if verdict is not None:
            self.failure = verdict
            raise MilestoneFailed(verdict)
        return self.runner.reached[-1]

    def expect_milestone(
        self,
        pattern: str,
        name: str | None = None,
        *,
        within: float = DEFAULT_WITHIN,
        silence: float | None = None,
        send: str | None = None,
    ) -> MilestoneResult:
        """Wait for a line matching ``pattern`` (optionally after typing ``send``).

        Raises :class:`MilestoneFailed` with a wedge, stall, panic or reset verdict.
        """
        # Written in plan seconds, as a plan's milestones are: the run's setup scales them alike.
        milestone = Milestone(
            name=name or pattern, expect=re.compile(pattern, re.MULTILINE), within=within, send=send, silence=silence
        )
        return self._step(self.runner.setup.scaled(milestone))

    def sendline(self, text: str) -> None:
        """Type a line (the board's newline is added)."""
        assert self.runner.console is not None
        self.runner.console.send(text + self.runner.setup.board.newline)

    def run(self, command: str, *, within: float = 30.0) -> CommandResult:
        """Run a shell command (Linux shell or U-Boot hush) and return its output and status.

        The command is followed by ``echo <marker>$?``; the marker line carries the status, and
        since the typed line shows ``$?`` literally, only the real output can match.
        """
        marker = f"__hb{next(self._markers)}__"
        console = self.runner.console
        assert console is not None
        # Captured rather than read back from the console's ring of recent lines, which holds
        # only the last few hundred: a long output must not lose its start.
        with console.capture() as captured:
            reached = self.expect_milestone(
                rf"^{marker}(?P<status>\d+)\s*$", f"run: {command}", within=within, send=f"{command}; echo {marker}$?"
            )
        lines = [line for _t, line in captured]
        # The output lies between the echoed command line and the marker line (both carry the
        # marker); what follows is the next prompt.
        marked = [index for index, line in enumerate(lines) if marker in line]
        output = lines[marked[0] + 1 : marked[-1]] if len(marked) >= 2 else lines[: marked[-1]]
        return CommandResult(command, "\n".join(output).strip("\n"), int(reached.captures["status"]))
