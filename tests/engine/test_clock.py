"""The live clock (harness/engine/clock.py): monotonic time, and waits that never round to nothing."""

from __future__ import annotations

import threading
import time

from harness.engine.clock import REAL_CLOCK, WAIT_FLOOR, RealClock


def test_time_never_goes_back_and_sleep_lets_it_pass() -> None:
    clock = RealClock()
    before = clock.monotonic()
    clock.sleep(0.05)
    after = clock.monotonic()
    assert after - before >= 0.05
    assert isinstance(REAL_CLOCK, RealClock)


def test_a_wait_of_nothing_still_waits_the_floor() -> None:
    cond = threading.Condition()
    for timeout in (0.0, -1.0, WAIT_FLOOR / 10):
        with cond:
            start = time.monotonic()
            REAL_CLOCK.wait(cond, timeout)
            assert time.monotonic() - start >= WAIT_FLOOR * 0.9  # the floor, not a spin on the lock


def test_a_wait_ends_when_notified() -> None:
    cond = threading.Condition()
    notifier = threading.Timer(0.05, lambda: _notify(cond))
    with cond:
        notifier.start()
        start = time.monotonic()
        REAL_CLOCK.wait(cond, 30.0)
    assert time.monotonic() - start < 10.0  # woken long before its timeout
    notifier.join()


def test_live_there_is_nothing_to_catch_up() -> None:
    assert REAL_CLOCK.judged() is None
    assert REAL_CLOCK.switched_off() is False


def _notify(cond: threading.Condition) -> None:
    with cond:
        cond.notify_all()
