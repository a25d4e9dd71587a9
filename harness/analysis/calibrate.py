"""``hartbeat calibrate``: deadlines and silences for a plan, from runs that passed.

For each milestone, over several passing runs of one plan on one board: how long it took after
the previous one (``delta``) and the longest quiet stretch while waiting for it. The suggestion
is the longest seen times a margin plus a little slack ("slightly longer than the longest
successful operation"), printed as TOML and optionally written into a copy of the plan.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.engine.verdict import Kind
from harness.errors import HartbeatError
from harness.model.plan import Plan
from harness.records.run_folder import RecordedRun, longest_quiet
from harness.run.setup import recorded

DEFAULT_MARGIN = 1.5
# Absolute slack on top of the margin: a 20 ms step must not get a 30 ms deadline that any
# scheduling hiccup of a loaded host would break.
DEFAULT_SLACK = 1.0
# A milestone whose slowest run took this many times its median is too variable for a
# deadline derived from a few runs.
FLAKY_RATIO = 2.0
FLAKY_SPREAD = 0.25


class CalibrationError(HartbeatError):
    """The runs given cannot be calibrated from (none passed, or mixed plans or boards)."""


@dataclass(frozen=True)
class Spread:
    """Minimum, median and maximum of one measure over the runs, in seconds."""

    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        return cls(min(values), statistics.median(values), max(values))

    def text(self) -> str:
        """``min / median / max`` in seconds."""
        return f"{self.low:.3f} / {self.median:.3f} / {self.high:.3f}"


@dataclass(frozen=True)
class MilestoneCalibration:
    """One milestone's measures and the limits suggested for it, in plan seconds (unscaled)."""

    name: str
    delta: Spread
    quiet: Spread
    within: float
    silence: float | None
    flaky: bool


@dataclass(frozen=True)
class Calibration:
    """The suggestion for a plan on a board from ``runs`` passing runs."""

    plan: str
    board: str
    runs: int
    skipped: int
    margin: float
    slack: float
    time_scale: float
    milestones: tuple[MilestoneCalibration, ...]

    @property
    def silence(self) -> float:
        """A plan-wide silence: the largest per-milestone one (for steps added later)."""
        return max((m.silence for m in self.milestones if m.silence is not None), default=self.slack)


def _limit(seen: float, margin: float, slack: float) -> float:
    """``seen * margin + slack`` rounded up to a readable duration."""
    value = seen * margin + slack
    step = 0.1 if value < 10 else 1.0
    return math.ceil(value / step - 1e-9) * step


def calibrate(
    plan: Plan,
    runs: Sequence[RecordedRun],
    *,
    margin: float = DEFAULT_MARGIN,
    slack: float = DEFAULT_SLACK,
) -> Calibration:
    """Measure the passing runs among ``runs`` (all of ``plan`` on one board) and suggest limits."""
    passed = [run for run in runs if run.kind == Kind.PASS]
    if not passed:
        raise CalibrationError(f"none of the {len(runs)} run(s) passed; calibrate needs passing runs")
    boards = sorted({run.board_name for run in passed})
    plans = sorted({run.plan_name for run in passed})
    if len(boards) > 1 or plans != [plan.name]:
        raise CalibrationError(
            f"calibrate needs runs of one plan on one board; got plans {', '.join(plans)} on boards {', '.join(boards)}"
            f" (plan given: {plan.name})"
        )
    # Measured in the board's seconds; suggested in the plan's, which its setup converts to.
    setups = [recorded(run, plan) for run in passed]
    scales = {setup.time_scale for setup in setups}
    if len(scales) > 1:
        raise CalibrationError(f"the runs were made with different time_scale values: {sorted(scales)}")
    setup = setups[0]
    measures: dict[str, tuple[list[float], list[float]]] = {m.name: ([], []) for m in plan.milestones}
    for run in passed:
        times = [t for t, _line in run.log_lines()]
        previous = 0.0
        for reached in run.milestones:
            if reached.name in measures:
                deltas, quiets = measures[reached.name]
                deltas.append(reached.delta)
                quiets.append(longest_quiet(times, previous, reached.t))
            previous = reached.t
    results = []
    for milestone in plan.milestones:
        deltas, quiets = measures[milestone.name]
        if not deltas:
            raise CalibrationError(f"milestone {milestone.name!r} of plan {plan.name} is in none of the runs")
        delta, quiet = Spread.of(deltas), Spread.of(quiets)
        flaky = delta.high > FLAKY_RATIO * delta.median and delta.high - delta.low > FLAKY_SPREAD
        results.append(
            MilestoneCalibration(
                name=milestone.name,
                delta=delta,
                quiet=quiet,
                within=_limit(setup.plan_seconds(delta.high), margin, slack),
                # Waiting for the target to end is not watched for silence: powered off is quiet.
                silence=None if milestone.exits else _limit(setup.plan_seconds(quiet.high), margin, slack),
                flaky=flaky,
            )
        )
    return Calibration(
        plan=plan.name,
        board=boards[0],
        runs=len(passed),
        skipped=len(runs) - len(passed),
        margin=margin,
        slack=slack,
        time_scale=setup.time_scale,
        milestones=tuple(results),
    )


def duration_text(seconds: float) -> str:
    """A duration as a plan writes it: ``"300ms"``, ``"1.5s"``, ``"12s"``."""
    if seconds < 1:
        return f'"{round(seconds * 1000)}ms"'
    return f'"{seconds:.1f}s"'.replace(".0s", "s")


def table(result: Calibration) -> str:
    """The measures per milestone, for a terminal."""
    out = [
        f"{result.plan} on {result.board}: {result.runs} passing run(s)"
        + (f", {result.skipped} other run(s) ignored" if result.skipped else "")
        + (f"; times divided by the board's time_scale {result.time_scale:g}" if result.time_scale != 1 else ""),
        f"  {'milestone':16} {'delta min / median / max':>26}  {'quiet min / median / max':>26}  within  silence",
    ]
    for m in result.milestones:
        silence = duration_text(m.silence).strip('"') if m.silence is not None else "-"
        flag = "  FLAKY: times vary too much for a fixed deadline" if m.flaky else ""
        out.append(
            f"  {m.name:16} {m.delta.text():>26}  {m.quiet.text():>26}  "
            f"{duration_text(m.within).strip(chr(34)):>6}  {silence:>7}{flag}"
        )
    return "\n".join(out)


def toml_fragment(result: Calibration) -> str:
    """The suggested limits as TOML to paste into the plan (milestones matched by name)."""
    out = [
        f"# hartbeat calibrate: {result.runs} passing run(s) of {result.plan} on {result.board};"
        f" longest seen x {result.margin:g} + {result.slack:g} s",
        f"silence = {duration_text(result.silence)}",
    ]
    for m in result.milestones:
        out += ["", "[[milestone]]", f'name = "{m.name}"', f"within = {duration_text(m.within)}"]
        if m.silence is not None:
            out.append(f"silence = {duration_text(m.silence)}")
        if m.flaky:
            out.append(f"# FLAKY: delta {m.delta.text()} s; a fixed deadline may fail good runs")
    return "\n".join(out)


_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*(\w+)\s*=")
_NAME = re.compile(r"""^\s*name\s*=\s*["']([^"']*)["']""")


def apply(plan_text: str, result: Calibration) -> str:
    """The plan's TOML text with the suggested ``silence`` and per-milestone limits written in.

    Lines are edited in place (comments and the other keys stay); a key a table lacks is added
    at the end of that table.
    """
    limits = {m.name: m for m in result.milestones}
    blocks: list[list[str]] = [[]]
    for line in plan_text.splitlines():
        if _TABLE.match(line):
            blocks.append([])
        blocks[-1].append(line)
    out: list[str] = []
    for index, block in enumerate(blocks):
        wanted: dict[str, str] = {}
        if index == 0:
            wanted["silence"] = duration_text(result.silence)
        elif block and block[0].strip() == "[[milestone]]":
            name = next((found.group(1) for line in block if (found := _NAME.match(line))), None)
            if name in limits:
                wanted["within"] = duration_text(limits[name].within)
                if limits[name].silence is not None:
                    wanted["silence"] = duration_text(limits[name].silence or 0.0)
        out.extend(_set_keys(block, wanted))
    return "\n".join(out) + "\n"


def _set_keys(block: list[str], wanted: dict[str, str]) -> list[str]:
    lines, done = [], set()
    for line in block:
        found = _KEY.match(line)
        if found and found.group(1) in wanted:
            key = found.group(1)
            lines.append(f"{key} = {wanted[key]}  # calibrated")
            done.add(key)
        else:
            lines.append(line)
    missing = [f"{key} = {value}  # calibrated" for key, value in wanted.items() if key not in done]
    # After the block's last key, before the blank lines that separate it from the next table.
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return lines[:end] + missing + lines[end:]


def write_plan(plan: Plan, result: Calibration, dest: Path) -> Path:
    """Write a copy of the plan file with the suggested limits to ``dest``."""
    text = plan.path.read_text(encoding="utf-8")
    dest.write_text(apply(text, result), encoding="utf-8")
    return dest
