"""What an autopsy backend is: a way to open a :class:`Probe` on a running target.

A backend knows one target kind (the emulator's control socket, QEMU's gdbstub, OpenOCD on a
board's JTAG). It only reads: the framework (:mod:`harness.probes.take`) decides when to
sample, symbolizes, walks stacks through :meth:`Probe.read_memory` and classifies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from harness.autopsy.model import AutopsySettings, HartGlance, HartMissing, HartState
from harness.errors import HartbeatError
from harness.model.board import Board
from harness.targets.base import Target


class AutopsyUnavailable(HartbeatError):
    """The backend cannot read the harts; the message is the one-line reason the report shows."""


@dataclass(frozen=True)
class Request:
    """What a backend is given to open its probe: the target, its board and the deadline.

    ``deadline`` is a :func:`time.monotonic` value: every call of the probe must return (or
    raise :class:`AutopsyUnavailable`) by then, e.g. by setting its socket timeouts from
    :meth:`remaining`.
    """

    target: Target
    board: Board
    deadline: float
    settings: AutopsySettings = field(default_factory=AutopsySettings)

    def remaining(self, floor: float = 0.01) -> float:
        """Seconds left until the deadline (at least ``floor``, for a socket timeout)."""
        return max(floor, self.deadline - time.monotonic())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() >= self.deadline


class Probe(Protocol):
    """An open connection to a target's harts for one autopsy. Reads only; never resumes or resets.

    The framework calls :meth:`read_harts` once per sample (the target keeps running between
    samples, so instructions retired can grow), :meth:`read_memory` to walk stacks, and
    :meth:`close` always, last.
    """

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        """Every hart's state now, in hart order; a hart that cannot be read is a :class:`HartMissing`."""

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """``size`` bytes at virtual ``address`` as ``hart`` sees memory now (its current
        translation); ``None`` when it is not mapped or not readable."""

    def close(self) -> None:
        """Release the connection (the target itself is left as it is, for power-off)."""


@runtime_checkable
class GlancingProbe(Probe, Protocol):
    """A probe whose full reads are slow also offers a quick one: the framework then reads every
    hart in full at the first and the last sample and glances at them in between."""

    def glance(self) -> tuple[HartGlance | HartMissing, ...]:
        """Every hart's pc, mode, wfi and counters now, in hart order."""


@dataclass(frozen=True)
class AutopsyBackend:
    """One backend, as the registry in :mod:`harness.autopsy` knows it.

    ``open`` connects to the target described by the request and returns a probe, or raises
    :class:`AutopsyUnavailable` with the reason (not this kind of target, no socket, no answer).
    """

    name: str
    open: Callable[[Request], Probe]
