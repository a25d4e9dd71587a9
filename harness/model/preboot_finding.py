"""A finding: one problem known before boot, named by file and key, with the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    """How bad a finding is; the value is the word reports and JSON show."""

    ERROR = "error"  # the run cannot start
    WARNING = "warning"  # the run starts (or falls back), the user should know


@dataclass(frozen=True)
class Finding:
    """One problem found before boot; ``error`` stops a run, ``warning`` does not."""

    level: Level
    source: str
    key: str
    message: str
    unavailable: bool = False

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{self.level}: {where}: {self.message}"
