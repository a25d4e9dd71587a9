"""OpenOCD started at power-on and kept standing by, so a verdict's autopsy only halts and reads.

Started at the verdict, OpenOCD spends most of the autopsy's budget starting, scanning the
chain and examining five harts (seconds on a loaded machine). A serial board with a
``[jtag] config`` therefore starts it in the background right after power-on: it examines
every hart while the board boots (OpenOCD halts each for a moment to read misa, as any
OpenOCD attached to a running board does) and then turns its background polling off, so it
sends nothing more until the autopsy. A board whose JTAG is not there yet (its FTDI still
enumerating, the emulator not yet listening) is tried again every :data:`RETRY_S` for
:data:`WINDOW_S`; after that the autopsy starts its own OpenOCD, as it would without this.

:meth:`StandbyOpenOcd.take` hands the ready session over (the autopsy shuts it down when it is
done); :meth:`StandbyOpenOcd.close` (at power-off) stops whatever is still running. Either way
the process runs under the keeper, like every OpenOCD the harness starts.
"""

from __future__ import annotations

import threading
import time

from harness.targets.openocd import JtagSettings, OpenOcd, OpenOcdError

# One attempt's limit: start, scan the chain, examine the harts, answer on the Tcl port.
START_S = 10.0
# Between two attempts, and for how long after power-on attempts are made.
RETRY_S = 1.0
WINDOW_S = 60.0
# Tcl: the targets OpenOCD could not examine (none on a board that answered).
UNEXAMINED = "set hb_u {}; foreach t [target names] { if {![$t was_examined]} { lappend hb_u $t } }; set hb_u"


class StandbyOpenOcd:
    """OpenOCD from a board's ``[jtag] config``, started in the background at power-on."""

    def __init__(self, settings: JtagSettings) -> None:
        self.settings = settings
        # The last attempt's failure (OpenOCD's own line), for a caller that wants to know.
        self.error: str | None = None
        self._lock = threading.Lock()
        # Set by take() and close(): no new attempt. close() also drops a session that comes late.
        self._stopped = threading.Event()
        self._closed = False
        self._settled = threading.Event()
        self._ready: OpenOcd | None = None
        self._trying: OpenOcd | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin the attempts (returns at once)."""
        self._thread = threading.Thread(target=self._attempts, name="openocd-standby", daemon=True)
        self._thread.start()

    def _attempts(self) -> None:
        until = time.monotonic() + WINDOW_S
        try:
            while not self._stopped.is_set():
                session = OpenOcd(self.settings)
                with self._lock:
                    if self._stopped.is_set():
                        return
                    self._trying = session
                try:
                    session.open(time.monotonic() + START_S, after_init=("poll off",))
                    unexamined = session.tcl(UNEXAMINED, time.monotonic() + START_S).split()
                    if unexamined:
                        raise OpenOcdError(session.first_error() or f"{unexamined[0]} was not examined")
                except OpenOcdError as exc:
                    session.close()
                    with self._lock:
                        self.error = str(exc)
                        self._trying = None
                    if time.monotonic() + RETRY_S >= until or self._stopped.wait(RETRY_S):
                        return
                    continue
                with self._lock:
                    self._trying = None
                    late = self._closed
                    if not late:
                        self._ready = session
                if late:
                    session.close()
                return
        finally:
            with self._lock:
                self._trying = None
            self._settled.set()

    def take(self, deadline: float) -> OpenOcd | None:
        """The ready session, handed over (the caller closes it). An attempt under way is let
        finish until ``deadline``: its failure is raised (:class:`OpenOcdError`, OpenOCD's line).
        None when no attempt is under way and none succeeded: the caller starts OpenOCD itself."""
        if self._thread is None:
            return None
        with self._lock:
            # No new attempt from now on; the one under way (if any) is the verdict's.
            self._stopped.set()
            waiting = self._trying is not None
        settled = self._settled.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            session, self._ready = self._ready, None
            trying, self._trying = self._trying, None
        if session is not None:
            return session
        if trying is not None:
            trying.close()
        if not settled:
            raise OpenOcdError((trying.first_error() if trying else None) or "did not start in time")
        if waiting and self.error is not None:
            raise OpenOcdError(self.error)
        return None

    def close(self) -> None:
        """Stop the attempts and a session nobody took (power-off)."""
        with self._lock:
            self._closed = True
            self._stopped.set()
            session, self._ready = self._ready, None
            trying, self._trying = self._trying, None
        for each in (session, trying):
            if each is not None:
                each.close()
