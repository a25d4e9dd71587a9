"""The image caches' shared mechanics: where they live, and how an entry is put in place.

Every image script (the tiny Linux, Debian's kernel, the SD card, its firmware) builds an entry
in a temporary folder beside the cache's final name and renames it into place only when it is
complete, so a folder that exists is whole; ``images/<...>/out`` links then name the entry the
boards boot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def hartbeat_cache() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat``: the root of every image cache."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hartbeat"


def publish(temp: Path, final: Path) -> Path:
    """Rename a finished temporary folder into place; a concurrent winner's copy is kept."""
    try:
        temp.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(temp, ignore_errors=True)
    return final


def point_link(link: Path, entry: Path) -> None:
    """Make ``link`` a symbolic link to ``entry`` (replaced atomically)."""
    temp = link.with_name(f".{link.name}-{os.getpid()}")
    temp.unlink(missing_ok=True)
    temp.symlink_to(entry)
    temp.replace(link)
