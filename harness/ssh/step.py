"""The plan's ``ssh`` step: run a command on the booted board and judge its status and output."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.engine.console import Console
from harness.engine.verdict import LAST_LINES, Evidence, Kind, Step, Verdict, concluded
from harness.model.plan import Milestone
from harness.ssh.client import CommandResult, append_log, connect_until, run_command
from harness.ssh.settings import SshSettings

OUTPUT_IN_REASON = 200
StepHook = Callable[[Milestone, Console], Verdict | None]


def step_hook(settings: SshSettings, log_path: Path, last_reached: Callable[[], str | None]) -> StepHook:
    """The runner's ``ssh`` step: run the command, check ``status`` (default 0) and ``expect``.

    The exchange is appended to ``log_path`` (``ssh.log`` in the run folder).
    """

    def run_step(milestone: Milestone, console: Console) -> Verdict | None:
        assert milestone.ssh is not None
        deadline = time.monotonic() + milestone.within
        client = connect_until(settings, deadline)
        try:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                result = run_command(client, milestone.ssh, remaining)
            except TimeoutError as exc:
                append_log(log_path, f"[{console.now():12.6f}] {settings.where} $ {milestone.ssh}\n  {exc}\n")
                return _step_verdict(
                    Kind.STALL, f"ssh step `{milestone.name}`: {exc}", milestone, console, last_reached
                )
        finally:
            client.close()
        append_log(log_path, _transcript(console.now(), settings, milestone.ssh, result))
        expected = 0 if milestone.status is None else milestone.status
        shown = " ".join(result.output.split())[:OUTPUT_IN_REASON] or "(no output)"
        if result.status != expected:
            return _step_verdict(
                Kind.FAIL,
                f"check `{milestone.name}` failed: `{milestone.ssh}` exited {result.status}, expected {expected}; "
                f"output: {shown}",
                milestone,
                console,
                last_reached,
                result,
            )
        if milestone.expect is not None and not milestone.expect.search(result.output):
            return _step_verdict(
                Kind.FAIL,
                f"check `{milestone.name}` failed: output of `{milestone.ssh}` does not match "
                f"/{milestone.expect.pattern}/; output: {shown}",
                milestone,
                console,
                last_reached,
                result,
            )
        return None

    return run_step


def _step_verdict(
    kind: Kind,
    reason: str,
    milestone: Milestone,
    console: Console,
    last_reached: Callable[[], str | None],
    result: CommandResult | None = None,
) -> Verdict:
    """The runner's verdict building, with the command's output as the evidence when there is one."""
    at = console.now()
    lines = (
        [(at, line) for line in result.output.splitlines()][-LAST_LINES:] if result else console.last_lines(LAST_LINES)
    )
    return concluded(kind, reason, Step(milestone.name, last_reached()), Evidence(at, tuple(lines)))


def _transcript(t: float, settings: SshSettings, command: str, result: CommandResult) -> str:
    parts = [f"[{t:12.6f}] {settings.where} $ {command}"]
    parts += [f"  | {line}" for line in result.stdout.splitlines()]
    parts += [f"  ! {line}" for line in result.stderr.splitlines()]
    parts.append(f"  exit status {result.status}")
    return "\n".join(parts) + "\n"
