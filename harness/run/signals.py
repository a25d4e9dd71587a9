"""Termination signals during a run: turned into an exception, or held while evidence is written.

A run interrupted by SIGINT, SIGTERM or SIGHUP must still power its target off and write its
console log and report; these helpers make that possible from the main thread.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from harness.errors import HartbeatError

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# The reason of every verdict a signal gave: the user's stop, not a judgement of the console.
INTERRUPTED = "run interrupted by "


class Interrupted(HartbeatError):
    """The harness received a termination signal; the run is recorded as ``error``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"{INTERRUPTED}{signal.Signals(signum).name}")


@contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` in the main thread for the duration."""

    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then deliver what came.

    Python runs signal handlers in the main thread only, so there (and only there) a handler
    that records the signal keeps a second Ctrl-C from cutting the report short.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: received.append(signum)) for sig in HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            os.kill(os.getpid(), received[0])
