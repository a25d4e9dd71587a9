"""Verdicts: what a run ended as, the evidence, and a signature two runs of one hang share.

:func:`judge` turns how a step ended (a console outcome) into a verdict. It is a pure function
of the outcome, the step it ended and the console lines gathered as evidence, so a recorded
console can be judged again without a target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.engine.console import Closed, Matched, Outcome, Quiet
from harness.engine.text import printable
from harness.engine.watch_kind import WatchKind


class Kind(StrEnum):
    """How a run ended."""

    PASS = "pass"
    WEDGE = "wedge"  # no console byte for `silence` seconds
    STALL = "stall"  # the milestone's deadline passed before the console was quiet for `silence`
    PANIC = "panic"  # a fail pattern of kind `panic` matched (the default)
    OOPS = "oops"  # a fail pattern of kind `oops` matched: the kernel reported a bug and went on
    RESET = "reset"  # the boot banner came back after a later milestone
    FAIL = "fail"  # a check failed: a prompt came back without `expect`, or a `fail`-kind pattern matched
    ERROR = "error"  # the harness or the target broke
    SKIP = "skip"  # cannot test: target or image missing


# The kinds a `[[fail]]` pattern can end a run as (its `kind` key).
FAIL_PATTERN_KINDS: tuple[Kind, ...] = (Kind.PANIC, Kind.OOPS, Kind.FAIL)

# A deadline verdict says output was still coming only when a byte came this close to it.
STILL_COMING = 0.5

# `git bisect run` reads 0 as good, 125 as "cannot test", anything else in 1..127 as bad.
EXIT_CODES: dict[Kind, int] = {Kind.PASS: 0, Kind.SKIP: 125}
EXIT_FAILED = 1


_TIMESTAMP = re.compile(r"^\s*\[\s*\d+\.\d+\]\s*")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")


def normalise_line(line: str) -> str:
    """A console line with timestamps, addresses and numbers blanked out.

    ``[  12.5] tm_msg 0x11b <- TM_REQ_SPAWN pid 42`` becomes ``tm_msg 0x# <- TM_REQ_SPAWN pid #``,
    so the same hang seen on two boots (other pids, other addresses) compares equal.
    """
    # Colour codes are presentation: the same hang in colour and without has one signature.
    text = _TIMESTAMP.sub("", printable(line))
    # Hex first, through a placeholder, so the number pass does not eat the 0 of "0x".
    text = _HEX.sub("\0", text)
    text = _LONG_HEX.sub("#", text)
    text = _NUMBER.sub("#", text).replace("\0", "0x#")
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Verdict:
    """The end of a run.

    ``milestone`` is the last milestone reached, ``waiting_for`` the one that never came, ``at``
    seconds since power-on, ``last_lines`` the timestamped lines before the event, and
    ``key_line`` the line the signature is built from (the panic line, or the last line before
    the silence).
    """

    kind: Kind
    reason: str
    milestone: str | None = None
    waiting_for: str | None = None
    at: float = 0.0
    last_lines: tuple[tuple[float, str], ...] = ()
    key_line: str = ""
    captures: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True for a pass."""
        return self.kind is Kind.PASS

    @property
    def exit_code(self) -> int:
        """0 pass, 125 skip, 1 any other verdict (the ``git bisect run`` convention)."""
        return EXIT_CODES.get(self.kind, EXIT_FAILED)

    @property
    def signature(self) -> str:
        """``kind|last milestone|normalised key line``: equal for two runs of the same hang."""
        if self.kind is Kind.PASS:
            return "pass"
        return f"{self.kind.value}|{self.milestone or '-'}|{normalise_line(self.key_line)}"

    def summary(self) -> str:
        """One line for a terminal or a pytest failure."""
        return f"{self.kind.value.upper()}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The verdict as report.json stores it."""
        return {
            "kind": self.kind.value,
            "reason": self.reason,
            "signature": self.signature,
            "milestone": self.milestone,
            "waiting_for": self.waiting_for,
            "at": round(self.at, 6),
            "key_line": self.key_line,
            "captures": dict(self.captures),
            "last_lines": [{"t": round(t, 6), "line": line} for t, line in self.last_lines],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Rebuild a verdict from :meth:`as_dict` output (bisect logs, cached results)."""
        return cls(
            kind=Kind(data["kind"]),
            reason=data.get("reason", ""),
            milestone=data.get("milestone"),
            waiting_for=data.get("waiting_for"),
            at=float(data.get("at", 0.0)),
            last_lines=tuple((float(item["t"]), item["line"]) for item in data.get("last_lines", ())),
            key_line=data.get("key_line", ""),
            captures=dict(data.get("captures", {})),
        )


def last_meaningful(lines: Sequence[tuple[float, str]]) -> str:
    """The last non-blank line: the one a person reads first after a silence."""
    for _t, line in reversed(lines):
        if line.strip():
            return line
    return ""


# Console lines kept as a verdict's evidence: the ones before the event.
LAST_LINES = 20


@dataclass(frozen=True)
class Step:
    """The step an outcome ended: what it waited for, and where the run stood.

    ``started`` is the step's start in seconds since power-on; ``within`` its own deadline and
    ``plan_timeout`` the plan's overall limit, ``silence`` the step's silence limit, all in
    seconds; ``expect`` the pattern text of a check whose prompt came back without it.
    """

    milestone: str | None
    reached: str | None
    started: float = 0.0
    within: float = math.inf
    plan_timeout: float = math.inf
    expect: str | None = None
    silence: float = math.inf

    @property
    def after(self) -> str:
        """Where the run stood, for a reason: ``after milestone `x``` or before the first one."""
        return f"after milestone `{self.reached}`" if self.reached else "before the first milestone"


@dataclass(frozen=True)
class Evidence:
    """What the console showed when a step ended.

    ``at`` is seconds since power-on, ``lines`` the timestamped lines shown with the verdict
    (for a panic, the lines around the panic line), ``quiet`` how long no byte had come;
    ``printed`` the complete lines that came since the last milestone (-1: not counted) and
    ``open_line`` the characters of the unfinished line after them.
    """

    at: float
    lines: tuple[tuple[float, str], ...] = ()
    quiet: float = 0.0
    printed: int = -1
    open_line: int = 0


def concluded(
    kind: Kind,
    reason: str,
    step: Step,
    evidence: Evidence,
    *,
    key_line: str | None = None,
    captures: dict[str, str] | None = None,
) -> Verdict:
    """A verdict for ``step`` with ``evidence``; the key line defaults to the last meaningful line."""
    return Verdict(
        kind=kind,
        reason=reason,
        milestone=step.reached,
        waiting_for=step.milestone,
        at=evidence.at,
        last_lines=evidence.lines,
        key_line=key_line if key_line is not None else last_meaningful(evidence.lines),
        captures=captures or {},
    )


def judge(outcome: Outcome, step: Step, evidence: Evidence, *, fail_kind: Kind = Kind.PANIC) -> Verdict:
    """The verdict for a step that ended without its milestone.

    A ``fail`` watch ends the run as ``fail_kind`` (its pattern's ``kind``: panic, oops or
    fail), a ``reset`` watch is an unexpected reset, a ``prompt`` watch a failed check (the
    prompt came back without ``step.expect``), a closed console an error; silence, or a
    deadline with no byte during the step, is a wedge, and any other deadline a stall, whose
    reason says what the console did: output still coming, or quiet since when. Only the
    arguments are read: a recorded console can be judged again.
    """
    after = step.after
    if isinstance(outcome, Matched):
        matched = _MATCHED.get(outcome.watch.kind)
        if matched is None:
            raise ValueError(f"a matched `{outcome.watch.kind}` watch reaches its milestone; it is not a verdict")
        return matched(outcome, step, evidence, fail_kind)
    if isinstance(outcome, Closed) and outcome.harness_side:
        # The disk filled up, not the target: the verdict names the disk.
        return concluded(Kind.ERROR, f"{outcome.reason} {after}, while waiting for `{step.milestone}`", step, evidence)
    if isinstance(outcome, Closed):
        return concluded(
            Kind.ERROR,
            f"target ended {after}, while waiting for `{step.milestone}`: {outcome.reason}",
            step,
            evidence,
        )
    tail = _tail_text(evidence.lines)
    nothing_this_step = evidence.quiet >= outcome.t - step.started - 0.05
    if isinstance(outcome, Quiet) or nothing_this_step:
        return concluded(
            Kind.WEDGE,
            f"wedged {after}; console quiet for {evidence.quiet:.1f} s while waiting for `{step.milestone}`; "
            f"last lines were: {tail}",
            step,
            evidence,
        )
    limit = "the plan timeout" if outcome.t >= step.plan_timeout else f"its {step.within:g} s deadline"
    return concluded(
        Kind.STALL,
        f"stalled {after}: `{step.milestone}` did not come within {limit}; {_console_did(step, evidence)}; "
        f"last lines were: {tail}",
        step,
        evidence,
    )


def _reset_matched(outcome: Matched, step: Step, evidence: Evidence, _kind: Kind) -> Verdict:
    """The boot banner came back after a later milestone: the board reset."""
    return concluded(
        Kind.RESET,
        f"unexpected reset {step.after}: the boot banner came back ({outcome.line.strip()})",
        step,
        evidence,
        key_line=outcome.line,
    )


def _prompt_matched(_outcome: Matched, step: Step, evidence: Evidence, _kind: Kind) -> Verdict:
    """The prompt came back without the check's expected line: the check failed."""
    return concluded(
        Kind.FAIL,
        f"check `{step.milestone}` failed: the prompt came back without /{step.expect or ''}/ in the output",
        step,
        evidence,
    )


def _fail_matched(outcome: Matched, step: Step, evidence: Evidence, kind: Kind) -> Verdict:
    """A fail pattern's verdict, named by the pattern's ``name`` or, without one, the line itself."""
    line = outcome.line.strip()
    reason = outcome.groups.get("reason")
    if outcome.watch.name:
        what = f"{outcome.watch.name}{f': {reason}' if reason else ''}"
        seen = f" (line: {line})"
    else:
        what, seen = f"`{line}`", ""
    return concluded(
        kind,
        f"{what} {step.after}, while waiting for `{step.milestone}`{seen}",
        step,
        evidence,
        key_line=outcome.line,
        captures=outcome.groups,
    )


# What a match of each watch kind ends the run as; an `expect` match reaches its milestone instead.
_MATCHED: dict[WatchKind, Callable[[Matched, Step, Evidence, Kind], Verdict]] = {
    WatchKind.FAIL: _fail_matched,
    WatchKind.RESET: _reset_matched,
    WatchKind.PROMPT: _prompt_matched,
}


def _console_did(step: Step, evidence: Evidence) -> str:
    """What the console did before a deadline: still printing, or quiet since when, and how much."""
    since = f"`{step.reached}`" if step.reached else "power-on"
    if evidence.printed >= 0:
        unfinished = f" and {evidence.open_line} characters of an unfinished line" if evidence.open_line else ""
        amount = f"{evidence.printed} line{'s' if evidence.printed != 1 else ''}{unfinished} since {since}"
    else:
        amount = f"output since {since}"
    if evidence.quiet < STILL_COMING:
        return f"output was still coming ({amount}, the last byte {evidence.quiet:.1f} s before the deadline)"
    limit = f", under the {step.silence:g} s silence limit" if math.isfinite(step.silence) else ""
    return (
        f"the console printed {amount}, then went quiet at {evidence.at - evidence.quiet:.1f} s "
        f"({evidence.quiet:.1f} s before the deadline{limit})"
    )


def _tail_text(lines: Sequence[tuple[float, str]], count: int = 3) -> str:
    shown = [line.strip() for _t, line in lines if line.strip()][-count:]
    return " | ".join(shown) if shown else "(nothing)"
