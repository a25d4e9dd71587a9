"""What a run tells its watcher as it goes: one :class:`StatusEvent` per call of its callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class StatusKind(Enum):
    """What a status event is about, so a watcher picks events without reading their text."""

    WAITING = "waiting"  # the periodic line while a milestone is awaited (four times a second)
    MILESTONE = "milestone"  # a milestone was reached
    NOTE = "note"  # something the run did on its own: an autopsy, a SysRq, a retyped newline


@dataclass(frozen=True)
class StatusEvent:
    """One status event: its kind and the line a person reads (``[  12.3s] reached uboot``)."""

    kind: StatusKind
    text: str

    def __str__(self) -> str:
        return self.text


StatusCallback = Callable[[StatusEvent], None]
