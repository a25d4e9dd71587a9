"""What a run of a candidate counts as: the hang we are after, a pass, or something else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.engine.verdict import Kind, Verdict


class Outcome(StrEnum):
    """A run seen through the bisect criterion."""

    GOOD = "good"
    BAD = "bad"
    OTHER = "other"  # another failure: it hides the hang, so the build cannot be judged


class BadIf(StrEnum):
    """Which failing runs count as the hang (``--bad-if``)."""

    SIGNATURE = "signature"  # the bad endpoint's signature, nothing else
    WEDGE = "wedge"
    ANY = "any"


@dataclass(frozen=True)
class Criterion:
    """Classifies verdicts; ``signature`` is the bad endpoint's, needed by ``BadIf.SIGNATURE``."""

    bad_if: BadIf
    signature: str | None = None

    def classify(self, verdict: Verdict) -> Outcome:
        """GOOD for a pass, BAD for the hang, OTHER for anything that cannot tell."""
        if verdict.kind is Kind.PASS:
            return Outcome.GOOD
        # A target that could not be used, or broke (a power switch, a lost port), says nothing
        # about the build, whatever the mode: syzkaller's wrong bisections came from exactly that.
        if verdict.kind in (Kind.SKIP, Kind.ERROR):
            return Outcome.OTHER
        if self.bad_if is BadIf.ANY:
            return Outcome.BAD
        if self.bad_if is BadIf.WEDGE:
            return Outcome.BAD if verdict.kind is Kind.WEDGE else Outcome.OTHER
        return Outcome.BAD if verdict.signature == self.signature else Outcome.OTHER

    def with_signature(self, signature: str) -> Criterion:
        """The same criterion once the bad endpoint's signature is known."""
        return Criterion(self.bad_if, signature)


def can_define_hang(verdict: Verdict) -> bool:
    """Whether a failing endpoint run may define the signature: harness trouble may not."""
    return verdict.kind not in (Kind.PASS, Kind.SKIP, Kind.ERROR)
