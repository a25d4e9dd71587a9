"""The running total of a target's wait for a CPU (harness/engine/starved.py), and what a limit leaves out."""

from __future__ import annotations

from harness.engine.starved import StarvedTime


def test_the_wait_recorded_after_a_moment_is_what_a_silence_from_then_leaves_out() -> None:
    starved = StarvedTime()
    assert starved.since(0.0) == 0.0
    starved.add(0.0, 1.0)
    starved.add(0.3, 1.1)
    starved.add(0.7, 1.5)
    assert starved.total == 0.7
    # A silence from 1.2 s on: the 0.4 s recorded at 1.5 s, some of it before 1.2 s, counts whole.
    assert round(starved.since(1.2), 9) == 0.4
    assert round(starved.since(1.0), 9) == 0.7
    assert starved.since(1.5) == 0.0 and starved.since(9.0) == 0.0


def test_a_new_process_starts_its_own_count_and_the_total_goes_on() -> None:
    # The keeper's wait first, then its child's (a new process: its sample starts again at 0).
    starved = StarvedTime()
    starved.add(0.4, 0.5)
    starved.add(0.1, 0.7)
    starved.add(0.3, 0.9)
    assert round(starved.total, 9) == 0.7
    assert round(starved.since(0.5), 9) == 0.3
