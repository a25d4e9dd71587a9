"""``python -m harness.emulator``: the emulator's command line (see ``cli.py``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def _load() -> Callable[[], NoReturn]:
    """Import the command line and everything it runs, on PyPy with the JIT paused.

    The imports run once, yet PyPy's JIT compiled the hottest loops in them (the import
    system's checks of each path, building enums and the decode and CSR tables): 15 ms of the
    0.15 s start-up of CPU. The JIT is back at its defaults before anything else runs."""
    if sys.implementation.name != "pypy":
        from .cli import command_line

        return command_line
    import pypyjit  # type: ignore[import-not-found]

    pypyjit.set_param("off")
    try:
        from .cli import command_line
    finally:
        pypyjit.set_param("default")
    return command_line


if __name__ == "__main__":
    _load()()
