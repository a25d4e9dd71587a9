"""SD card images for the FU740 tests: SiFive's layout written with harness.model.gpt (no root, no gdisk)."""

from __future__ import annotations

import uuid
from pathlib import Path

from harness.model import gpt

SPL_FIRST, SPL_LAST = 34, 2081
FIT_FIRST, FIT_LAST = 2082, 10273


def write_card(path: Path, spl: bytes | None, fit: bytes = b"", size: int = 16 << 20) -> Path:
    """A GPT card with ``spl`` in an SPL partition (none if None) and ``fit`` at sector 0x822."""
    sectors = size // gpt.SECTOR
    parts = [gpt.Partition(2, gpt.PartitionType.SIFIVE_UBOOT.value, uuid.uuid4(), FIT_FIRST, FIT_LAST, "uboot")]
    if spl is not None:
        parts.insert(0, gpt.Partition(1, gpt.PartitionType.SIFIVE_SPL.value, uuid.uuid4(), SPL_FIRST, SPL_LAST, "spl"))
    with open(path, "wb") as f:
        f.truncate(size)
        gpt.write_table(f, sectors, parts, uuid.uuid4())
        if spl is not None:
            f.seek(SPL_FIRST * gpt.SECTOR)
            f.write(spl)
        f.seek(FIT_FIRST * gpt.SECTOR)
        f.write(fit)
    return path
