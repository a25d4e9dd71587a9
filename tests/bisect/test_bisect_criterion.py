"""harness/bisect/criterion.py: which verdicts are the hang, which a pass, which neither."""

from __future__ import annotations

from harness.bisect.criterion import BadIf, Criterion, Outcome
from harness.engine.verdict import Kind, Verdict


def test_criterion_modes() -> None:
    wedge = Verdict(Kind.WEDGE, "w", milestone="usr", key_line="tm_msg 0x11b")
    panic = Verdict(Kind.PANIC, "p", milestone="banner", key_line="Kernel panic")
    error = Verdict(Kind.ERROR, "e")
    by_signature = Criterion(BadIf.SIGNATURE, wedge.signature)
    assert by_signature.classify(wedge) is Outcome.BAD
    assert by_signature.classify(panic) is Outcome.OTHER
    assert by_signature.classify(Verdict(Kind.PASS, "ok")) is Outcome.GOOD
    assert Criterion(BadIf.WEDGE).classify(panic) is Outcome.OTHER
    # A harness error (power switch, lost port) is never the build's hang, even with --bad-if any.
    assert Criterion(BadIf.ANY).classify(error) is Outcome.OTHER
    assert Criterion(BadIf.ANY).classify(Verdict(Kind.SKIP, "no image")) is Outcome.OTHER


def test_harness_errors_are_never_the_hang() -> None:
    from harness.engine.verdict import Kind, Verdict

    for mode in BadIf:
        assert Criterion(mode, "wedge|x|y").classify(Verdict(Kind.ERROR, "power switch failed")) is Outcome.OTHER
