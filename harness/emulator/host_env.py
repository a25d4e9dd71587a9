"""The environment the emulator's interpreter process starts with.

PyPy sizes its young-object nursery from the CPU's cache (about 1 MB here), and reads the size
only when it starts (``PYPY_GC_NURSERY``), so whoever starts the emulator sets it. The emulator
allocates fast wherever PyPy is not running a compiled trace (warm-up, bridges, the helpers),
and with a 1 MB nursery the collector's minor and major steps were a fifth of a boot: tiny Linux
to its shell, 6,311 minor collections and 210 major steps (about 0.8 s of 4.2 s); with 16 MB,
395 minor collections and no major step (0.28 s). OpenSBI + U-Boot to "Hit any key": 1,423
minor + 78 major steps (about 0.4 s), 89 minor with 16 MB (0.09 s). Larger sizes gained nothing
more. CPython ignores the variable; a size the user has set is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# PyPy's nursery for the emulator (see the module docstring for the measurements).
PYPY_NURSERY = "16MB"
# The variables the emulator's interpreter starts with, unless the user has set them.
SETTINGS = {"PYPY_GC_NURSERY": PYPY_NURSERY}


def interpreter_settings() -> dict[str, str]:
    """The variables the emulator's interpreter starts with (a value the user has set is kept)."""
    return {name: os.environ.get(name, value) for name, value in SETTINGS.items()}


def interpreter_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the emulator's PyPy settings added."""
    env = dict(os.environ if base is None else base)
    for name, value in SETTINGS.items():
        env.setdefault(name, value)
    return env
