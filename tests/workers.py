"""The suite under pytest-xdist (``make test`` runs it on every core): what the workers share.

``--dist loadgroup`` hands each test to whichever worker is free, except the tests of one
:func:`shared_group`: a module whose fixture boots once for all of its tests (a module-scoped
QEMU, emulator or lab) runs whole on one worker, so the boot is not repeated on each.

Each xdist worker has its own temporary folder, ``popen-gwN``, below the session's. The last
test, ``test_zz_replay_all.py``, replays the run folders of every worker, so it must not start
before the other workers have finished their tests: each worker leaves ``gwN.pid`` when it starts
and ``gwN.done`` when its tests are over, in the session's folder, and the replay waits for them.
A test marked ``alone`` (a wall-time ratio, such as bisect's --jobs 3 against --jobs 1) runs with
no test on another worker: :func:`turn`. Without xdist all of this is a no-op and the session's
folder is pytest's own.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Polling the markers: they are written once per worker and session, so a tenth of a second
# costs nothing and waits at most that long past the last worker's end.
POLL_S = 0.1


def worker(config: pytest.Config) -> tuple[str, int] | None:
    """This worker's id (``gw0``) and how many workers there are; None outside xdist.

    Asked of the config, not the environment: a pytest a test starts inherits the variables.
    """
    given = getattr(config, "workerinput", None)
    if given is None:
        return None
    return str(given["workerid"]), int(given["workercount"])


def session_folder(config: pytest.Config) -> Path | None:
    """The folder that holds every worker's ``popen-gwN`` (None outside a worker)."""
    basetemp = config.option.basetemp
    if worker(config) is None or not basetemp:
        return None
    return Path(basetemp).parent


def started(config: pytest.Config) -> None:
    """A worker has started: leave its pid for the replay to tell a finished worker from a dead one."""
    folder, me = session_folder(config), worker(config)
    if folder is not None and me is not None:
        (folder / f"{me[0]}.pid").write_text(str(os.getpid()), encoding="utf-8")


def finished(config: pytest.Config) -> None:
    """A worker's tests are over (every run folder it makes is written)."""
    folder, me = session_folder(config), worker(config)
    if folder is not None and me is not None:
        (folder / f"{me[0]}.done").touch()


def _alive(folder: Path, name: str) -> bool:
    """Whether a worker still runs: its pid file names a live process (no file: not started yet)."""
    try:
        pid = int((folder / f"{name}.pid").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def all_runs_root(config: pytest.Config, own: Path) -> Path:
    """The folder under which every test of this session made its runs, once they are all made.

    Outside xdist that is ``own`` (pytest's base temporary folder). Under xdist it is the
    session's folder, returned once every other worker has finished (or died: xdist reports its
    tests as crashed, and the replay takes what it left).
    """
    folder, me = session_folder(config), worker(config)
    if folder is None or me is None:
        return own
    name, count = me
    others = [f"gw{i}" for i in range(count) if f"gw{i}" != name]
    while True:
        waiting = [w for w in others if not (folder / f"{w}.done").exists() and _alive(folder, w)]
        if not waiting:
            return folder
        time.sleep(POLL_S)


# Fixture scopes whose one instance serves several tests of a module (or class, or package).
SHARED_SCOPES = ("module", "class", "package")


def shared_group(item: pytest.Item) -> str | None:
    """The group that must run on one worker for ``item``'s fixtures to be set up once, or None.

    A module-scoped fixture is set up once per module and worker; a session-scoped one defined
    in a test module (the ISA programs, built once) is set up once per worker too. Session
    fixtures of the conftests (the tiny Linux, Debian's kernel and firmware, the SD cards) are
    builds and fetches cached on disk under a lock, cheap to look up again on another worker.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for definitions in info.name2fixturedefs.values():
        fixture = definitions[-1]
        if fixture.scope in SHARED_SCOPES or (fixture.scope == "session" and fixture.baseid.endswith(".py")):
            return item.nodeid.split("::", 1)[0]
    return None


@contextmanager
def turn(config: pytest.Config, *, alone: bool) -> Iterator[None]:
    """Hold a test's turn: shared with the other workers' tests, or the whole machine if ``alone``.

    Two flocks in the session's folder: ``room`` is held shared by every running test and
    exclusively by an ``alone`` one; ``gate`` is taken briefly by each test before the room, and
    held by an ``alone`` test while it waits, so the other workers start nothing new and the
    room empties as their current tests end. The locks go with a worker that dies.
    """
    folder = session_folder(config)
    if folder is None:
        yield
        return
    with (folder / "gate.lock").open("a") as gate, (folder / "room.lock").open("a") as room:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
