"""harness/bisect/trials.py: one boot's record and seed."""

from __future__ import annotations

from harness.bisect.criterion import Outcome
from harness.bisect.phase import Phase
from harness.bisect.trials import RunRecord, run_seed
from harness.engine.verdict import Kind, Verdict


def test_run_seeds_are_reproducible_and_distinct() -> None:
    assert run_seed(7, "build-001", 1) == run_seed(7, "build-001", 1)
    assert len({run_seed(7, f"build-{i}", a) for i in range(10) for a in range(1, 6)}) == 50


def test_a_record_keeps_its_phase_as_the_journal_text() -> None:
    record = RunRecord(3, "build-003", "k", 1, 7, Phase.VERIFY, 1.25, "runs/build-003/001", Verdict(Kind.PASS, "ok"))
    event = record.as_event(Outcome.GOOD)
    assert event["phase"] == "verify" and type(event["phase"]) is str
    again = RunRecord.from_event(event)
    assert again == record and again.phase is Phase.VERIFY
