"""Verdicts: what a run ended as, the evidence, and a signature two runs of one hang share.

:func:`judge` turns how a step ended (a console outcome) into a verdict. It is a pure function
of the outcome, the step it ended and the console lines gathered as evidence, so a recorded
console can be judged again without a target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.console import Closed, Matched, Outcome, Quiet
from harness.text import printable


class Kind(StrEnum):
    """How a run ended."""

    PASS = "pass"
    WEDGE = "wedge"  # no console byte for `silence` seconds
    STALL = "stall"  # output kept coming, the milestone's deadline passed
    PANIC = "panic"  # a fail pattern matched
    RESET = "reset"  # the boot banner came back after a later milestone
    FAIL = "fail"  # a check on a command's output failed
    ERROR = "error"  # the harness or the target broke
    SKIP = "skip"  # cannot test: target or image missing


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
    ``plan_timeout`` the plan's overall limit, both in seconds; ``expect`` the pattern text of a
    check whose prompt came back without it.
    """

    milestone: str | None
    reached: str | None
    started: float = 0.0
    within: float = math.inf
    plan_timeout: float = math.inf
    expect: str | None = None

    @property
    def after(self) -> str:
        """Where the run stood, for a reason: ``after milestone `x``` or before the first one."""
        return f"after milestone `{self.reached}`" if self.reached else "before the first milestone"


@dataclass(frozen=True)
class Evidence:
    """What the console showed when a step ended.

    ``at`` is seconds since power-on, ``lines`` the timestamped lines shown with the verdict
    (for a panic, the lines around the panic line), ``quiet`` how long no byte had come.
    """

    at: float
    lines: tuple[tuple[float, str], ...] = ()
    quiet: float = 0.0


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


def judge(outcome: Outcome, step: Step, evidence: Evidence) -> Verdict:
    """The verdict for a step that ended without its milestone.

    A ``fail`` watch is a panic, a ``reset`` watch an unexpected reset, a ``prompt`` watch a
    failed check (the prompt came back without ``step.expect``), a closed console an error;
    a deadline with no byte during the step, or silence, is a wedge, and a deadline with output
    still coming a stall. Only the arguments are read: a recorded console can be judged again.
    """
    after = step.after
    if isinstance(outcome, Matched):
        kind = outcome.watch.kind
        if kind == "fail":
            reason = outcome.groups.get("reason")
            detail = f": {reason}" if reason else ""
            return concluded(
                Kind.PANIC,
                f"{outcome.watch.name}{detail} {after}, while waiting for `{step.milestone}` "
                f"(line: {outcome.line.strip()})",
                step,
                evidence,
                key_line=outcome.line,
                captures=outcome.groups,
            )
        if kind == "reset":
            return concluded(
                Kind.RESET,
                f"unexpected reset {after}: the boot banner came back ({outcome.line.strip()})",
                step,
                evidence,
                key_line=outcome.line,
            )
        if kind == "prompt":
            return concluded(
                Kind.FAIL,
                f"check `{step.milestone}` failed: the prompt came back without /{step.expect or ''}/ in the output",
                step,
                evidence,
            )
        raise ValueError(f"a matched {kind!r} watch reaches its milestone; it is not a verdict")
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
        f"stalled {after}: output continues but `{step.milestone}` did not come within {limit}; "
        f"last lines were: {tail}",
        step,
        evidence,
    )


def _tail_text(lines: Sequence[tuple[float, str]], count: int = 3) -> str:
    shown = [line.strip() for _t, line in lines if line.strip()][-count:]
    return " | ".join(shown) if shown else "(nothing)"
