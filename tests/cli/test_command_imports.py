"""What a fresh `hartbeat run` imports: not bisect's modules, nor replay's (a third of its start-up)."""

from __future__ import annotations

import subprocess
import sys


def _loaded(argv: list[str]) -> set[str]:
    """The harness packages a fresh interpreter has imported after building the parser for ``argv``."""
    code = (
        "import sys\nfrom harness.cli import build_parser\n"
        f"build_parser({argv!r})\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules if m.startswith('harness.')})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


def test_a_run_does_not_import_bisect_or_replay() -> None:
    loaded = _loaded(["run", "uboot-smoke", "--board", "qemu-virt"])
    assert "run" in loaded and "records" in loaded
    assert "bisect" not in loaded and "analysis" not in loaded
