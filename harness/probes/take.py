"""Taking an autopsy: open the target's backend, sample every hart, symbolize, walk stacks, classify.

:func:`take_autopsy` is what the runner calls after the verdict is decided and before power-off.
It never raises and never takes longer than the settings' limit (at most 5 s): the work runs in
a thread the caller stops waiting for, so even a backend that ignores its deadline cannot hold
the run. Whatever goes wrong becomes ``autopsy unavailable: <reason>``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from harness.autopsy.backtrace import MAX_FRAME, backtrace, caller_location
from harness.autopsy.classify import classify, diagnose
from harness.autopsy.loops import loop_wait
from harness.autopsy.model import (
    MAX_SECONDS,
    Autopsy,
    AutopsySettings,
    HartAutopsy,
    HartClass,
    HartGlance,
    HartMissing,
    HartSample,
    HartState,
    Location,
    Privilege,
)
from harness.model.board import Board
from harness.probes.backend import AutopsyUnavailable, GlancingProbe, Probe, Request
from harness.probes.registry import backend_for
from harness.targets.base import Target

# Time kept back from the limit for the walk over stacks and the classification.
RESERVE = 0.3
DEFAULT_SETTINGS = AutopsySettings()


class Symbolizer(Protocol):
    """Names addresses (see :class:`harness.autopsy.symbols.Symbols`)."""

    def load(self) -> None:
        """Read the symbol files (may be slow: called in a thread while the harts are sampled)."""

    def locate(self, address: int, mode: Privilege) -> Location | None:
        """Where ``address`` lies for a hart in ``mode``; ``None`` when no file covers it."""

    def problems(self) -> tuple[str, ...]:
        """What could not be read (a missing or malformed file), one line each."""

    def names(self) -> tuple[str, ...]:
        """The symbol files in use, for the report."""

    def verify(self, address: int, read: Callable[[int, int], bytes | None]) -> None:
        """Stop using the file that covers ``address`` if its code is not what memory holds."""


def take_autopsy(
    target: Target,
    board: Board,
    settings: AutopsySettings = DEFAULT_SETTINGS,
    symbols: Symbolizer | None = None,
) -> Autopsy:
    """Where every hart of ``target`` is now; ``autopsy unavailable: <reason>`` on any failure."""
    start = time.monotonic()
    limit = min(settings.limit, MAX_SECONDS)
    request = Request(target=target, board=board, deadline=start + limit, settings=settings)
    outcome: list[Autopsy] = []

    def work() -> None:
        try:
            outcome.append(_take(request, symbols))
        except AutopsyUnavailable as exc:
            outcome.append(Autopsy.unavailable(str(exc)))
        except Exception as exc:  # a backend's bug must not cost the run its report
            outcome.append(Autopsy.unavailable(f"{type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=work, name="autopsy", daemon=True)
    thread.start()
    thread.join(limit)
    duration = time.monotonic() - start
    if not outcome:
        return Autopsy.unavailable(f"the {board.target} backend did not answer within {limit:g} s", duration=duration)
    autopsy = outcome[0]
    return replace(autopsy, duration=duration, backend=autopsy.backend or board.target)


def _take(request: Request, symbols: Symbolizer | None) -> Autopsy:
    backend = backend_for(request.board.target)
    first: list[tuple[HartState | HartMissing, ...]] = []
    sampled, loaded = threading.Event(), threading.Event()
    loader = None
    if symbols is not None:
        # Symbol files load while the harts are sampled (a vmlinux takes a moment), then the
        # first sample's addresses are looked up, so their line tables are decoded by the end.
        loader = threading.Thread(
            target=_prepare, args=(symbols, first, sampled, loaded, request), name="autopsy-symbols", daemon=True
        )
        loader.start()
    probe = backend.open(request)
    try:
        reads, took = _sample(probe, request, first, sampled)
        if loader is not None:
            loader.join(max(0.0, request.deadline - RESERVE - time.monotonic()))
        # A memory read is taken to cost at first what reading one hart's registers cost.
        memory = _GuardedMemory(probe, request, took / max(1, len(reads[0][1]) if reads else 1))
        harts = _conclude(memory, request, reads, symbols if loaded.is_set() else None)
    finally:
        probe.close()
    settings = request.settings
    notes = symbols.problems() if symbols is not None else ()
    names = symbols.names() if symbols is not None else ()
    return Autopsy(
        diagnose(harts),
        harts=harts,
        backend=backend.name,
        samples=len(reads),
        span=reads[-1][0] - reads[0][0] if reads else 0.0,
        symbols=names,
        notes=tuple(notes) + tuple(_settings_notes(settings, len(reads))),
    )


def _prepare(
    symbols: Symbolizer,
    first: list[tuple[HartState | HartMissing, ...]],
    sampled: threading.Event,
    loaded: threading.Event,
    request: Request,
) -> None:
    """Load the symbol files, then name the first sample's pcs and return addresses.

    A thread's exception would print a traceback: a bad file is a problem the symbols report.
    """
    try:
        symbols.load()
        loaded.set()
        if sampled.wait(max(0.0, request.deadline - time.monotonic())):
            for item in first[0]:
                if isinstance(item, HartState):
                    symbols.locate(item.pc, item.mode)
                    symbols.locate(item.ra - 1, item.mode)
    except Exception:  # the autopsy goes on without names
        return


Read = tuple[HartState | HartGlance | HartMissing, ...]


def _sample(
    probe: Probe,
    request: Request,
    first_read: list[tuple[HartState | HartMissing, ...]],
    sampled: threading.Event,
) -> tuple[list[tuple[float, Read]], float]:
    """``samples`` reads of every hart, ``interval`` apart (fewer if the deadline comes first),
    and the seconds the last full read took; the first read also goes to ``first_read``, with
    ``sampled`` set. A probe that can glance (:class:`GlancingProbe`) is read in full at the
    first and last sample only."""
    settings = request.settings
    reads: list[tuple[float, Read]] = []
    first = time.monotonic()
    took = 0.0
    count = max(1, settings.samples)
    glance = probe.glance if isinstance(probe, GlancingProbe) else None
    for index in range(count):
        due = first + index * settings.interval
        # A read takes as long as the one before (a JTAG read of five harts takes a second):
        # one that would end past the deadline is not started.
        if index and max(due, time.monotonic()) + took > request.deadline - RESERVE:
            break
        time.sleep(max(0.0, due - time.monotonic()))
        started = time.monotonic()
        if glance is not None and 0 < index < count - 1:
            reads.append((started - first, glance()))
        else:
            full = probe.read_harts()
            reads.append((started - first, full))
            took = time.monotonic() - started
            if index == 0:
                first_read.append(full)
                sampled.set()
    return reads, took


def _conclude(
    memory: _GuardedMemory,
    request: Request,
    reads: Sequence[tuple[float, Read]],
    symbols: Symbolizer | None,
) -> tuple[HartAutopsy, ...]:
    """Each hart's samples, class, place and backtrace, from the reads (oldest first)."""
    ids = sorted({item.hart for _, harts in reads for item in harts})
    if symbols is not None and reads:
        # A file of another build would name every address wrongly: check each against memory first.
        for item in reads[-1][1]:
            if not isinstance(item, HartMissing) and not request.expired():
                symbols.verify(item.pc, functools.partial(memory.read_memory, item.hart))
    out = []
    spinning: dict[int, tuple[int, ...]] = {}
    for hart in ids:
        states = [(t, item) for t, harts in reads for item in harts if item.hart == hart]
        latest = states[-1][1]
        # The state shown and classified is the latest full read (a glance has no registers).
        full = [s for _, s in states if isinstance(s, HartState)]
        if isinstance(latest, HartMissing) or not full:
            reason = latest.reason if isinstance(latest, HartMissing) else "only glanced at, never read in full"
            out.append(HartAutopsy(hart, HartClass.UNAVAILABLE, reason, reason=reason))
            continue
        last = full[-1]
        mode = last.mode

        def locate(address: int, mode: Privilege = mode) -> Location | None:
            return symbols.locate(address, mode) if symbols is not None else None

        samples = tuple(
            HartSample(t, s.pc, s.instret, s.traps, s.wfi, s.mode) for t, s in states if not isinstance(s, HartMissing)
        )
        classified = classify(samples, last, locate)
        if classified.klass is HartClass.SPINNING:
            spinning[hart] = classified.loop_pcs
        # The state shown is the latest one at the pc that stands for the hart (a spinning hart's
        # loop, though the last sample caught it taking a tick), so pc, ra and stack agree.
        shown = next((s for s in reversed(full) if s.pc == classified.pc), last)
        frames = () if request.expired() else backtrace(memory, shown, locate, request)
        out.append(
            HartAutopsy(
                hart,
                classified.klass,
                classified.note,
                state=shown,
                samples=samples,
                where=locate(shown.pc),
                ra_where=caller_location(shown.ra, locate),
                backtrace=frames,
            )
        )
    # Last, with the time left after every hart's stack: what each spinning hart's loop waits
    # on, which decides whether spinning harts can be waiting on each other.
    return tuple(_with_loop(h, memory, spinning[h.hart]) if h.hart in spinning else h for h in out)


def _with_loop(hart: HartAutopsy, memory: _GuardedMemory, pcs: tuple[int, ...]) -> HartAutopsy:
    """A spinning hart with what its loop waits on, its note saying it."""
    state = hart.state
    if state is None or not memory.time_left():
        return hart
    loop = loop_wait(functools.partial(memory.read_memory, hart.hart), pcs, state.ra, _frame_pointer(state))
    note = f"{hart.note}; {loop.phrase}" if loop.phrase else hart.note
    return replace(hart, note=note, loop=loop)


class _GuardedMemory:
    """The probe's memory for checking symbol files, walking stacks and reading loops, within
    the time left: a read is not started unless one as slow as the slowest so far (at first, a
    hart's registers' read) would still end RESERVE / 2 before the deadline (a JTAG read takes a
    good part of a second on a slow adapter), and a backend that gives up (its own deadline) is
    nothing read rather than the whole autopsy lost."""

    def __init__(self, probe: Probe, request: Request, slowest: float) -> None:
        self.probe = probe
        self.request = request
        self.slowest = slowest

    def time_left(self) -> bool:
        """Whether one more read of the slowest kind so far fits before the deadline."""
        return self.request.deadline - time.monotonic() > self.slowest + RESERVE / 2

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """``size`` bytes at ``address`` as ``hart`` sees them, or ``None``."""
        if not self.time_left():
            return None
        started = time.monotonic()
        try:
            return self.probe.read_memory(hart, address, size)
        except AutopsyUnavailable:
            return None
        finally:
            self.slowest = max(self.slowest, time.monotonic() - started)


def _frame_pointer(state: HartState) -> bool:
    """Whether s0 points into the hart's stack (within a frame's reach above sp), as a frame
    pointer does: -O0 code keeps its locals below it."""
    return state.sp <= state.fp <= state.sp + MAX_FRAME


def _settings_notes(settings: AutopsySettings, taken: int) -> list[str]:
    if taken < settings.samples:
        return [f"{taken} of {settings.samples} samples taken before the time limit"]
    return []
