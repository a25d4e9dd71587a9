"""Verdicts: what a run ended as, the evidence, and a signature two runs of one hang share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
    text = _TIMESTAMP.sub("", line)
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


def last_meaningful(lines: tuple[tuple[float, str], ...] | list[tuple[float, str]]) -> str:
    """The last non-blank line: the one a person reads first after a silence."""
    for _t, line in reversed(lines):
        if line.strip():
            return line
    return ""
