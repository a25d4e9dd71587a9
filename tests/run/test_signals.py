"""Termination signals during a run (harness/run/signals.py): raised as :class:`Interrupted` while a
run waits, held while its evidence is written, and the handlers before them put back."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from harness.run.signals import HELD_SIGNALS, INTERRUPTED, Interrupted, signals_deferred, signals_raise


@pytest.fixture
def received() -> Iterator[list[int]]:
    """A handler of our own on every held signal, recording what reaches it; the old ones restored."""
    got: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: got.append(signum)) for sig in HELD_SIGNALS}
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_raises_interrupted_naming_it(received: list[int], sig: signal.Signals) -> None:
    with pytest.raises(Interrupted) as error, signals_raise():
        os.kill(os.getpid(), sig)
        time.sleep(10)  # the handler raises here, in the block, cutting the wait short
    assert error.value.signum == sig and str(error.value) == f"{INTERRUPTED}{sig.name}"
    os.kill(os.getpid(), sig)  # after the block: our handler again
    assert received == [sig]


def test_held_signals_arrive_once_the_evidence_is_written(received: list[int]) -> None:
    with signals_deferred():
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGTERM)
        assert received == []  # nothing cuts the report short
    assert received == [signal.SIGHUP]  # the first one is delivered, to the handler from before


def test_outside_the_main_thread_nothing_is_held(received: list[int]) -> None:
    handlers: list[object] = []

    def worker() -> None:
        with signals_deferred():
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert handlers == [signal.getsignal(signal.SIGTERM)]  # the main thread's handler, untouched
