"""Do the emulator's two engines run the same guest? The tiny Linux on ``unmatched`` (5 harts),
in-process, once per engine, compared round by round.

The guest clock counts instructions, so one engine run twice gives the same guest whatever the
host's load. Across engines the guest is the same only if every hart executes the same
instructions in every scheduler round; this script prints, per engine, the instructions each hart
ran per full quantum (min/max/distinct sizes), the first round where the harts' instruction counts
differ, and the first console line that differs up to the prompt::

    python benchmarks/engine_lockstep.py [--image DIR] [--rounds N]

The interpreter runs under pypy3 where installed (as under the harness), the block translator
under this Python. Exits 1 when the engines' consoles differ up to the prompt.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
PROMPT = b"hartbeat# "
_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\] ", re.MULTILINE)


def boot(image: Path, max_rounds: int) -> dict[str, Any]:
    """In this process: boot to the prompt, recording each round's per-hart instruction counts."""
    sys.path.insert(0, str(ROOT))
    from harness.emulator import cpu
    from harness.emulator.console import MemoryConsole
    from harness.emulator.machine import Machine, MachineConfig

    quanta: list[int] = []
    plain_run = cpu.Hart.run

    def counted_run(h: cpu.Hart, budget: int) -> int:
        before = h.icount
        used = plain_run(h, budget)
        if not h.yielding and not h.wfi and not h.halted:
            quanta.append(h.icount - before)
        return used

    cpu.Hart.run = counted_run  # type: ignore[method-assign,assignment]
    console = MemoryConsole()
    config = MachineConfig(
        board="unmatched",
        smp=5,
        ram_size=256 << 20,
        bios=FW_JUMP,
        kernel=str(image / "Image"),
        initrd=str(image / "initramfs.cpio"),
        append="console=ttySIF0 earlycon",
    )
    machine = Machine(config, console)
    rounds: list[list[int]] = []
    while PROMPT not in console.output and len(rounds) < max_rounds:
        if not machine.step_round():
            machine.idle()
        rounds.append([h.icount for h in machine.harts])
    return {
        "engine": machine.harts[0].engine.name,
        "python": sys.implementation.name,
        "rounds": rounds,
        "quanta": [min(quanta), max(quanta), len(set(quanta))],
        "console": bytes(console.output).decode(errors="replace"),
    }


def run_engine(engine: str, image: Path, max_rounds: int) -> dict[str, Any]:
    """One engine's boot in its own process (pypy3 for the interpreter where installed)."""
    python = shutil.which("pypy3") if engine == "interp" else None
    env = dict(os.environ, HARTBEAT_EMU_ENGINE=engine)
    argv = [python or sys.executable, __file__, "--child", "--image", str(image), "--rounds", str(max_rounds)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def until_prompt(text: str) -> list[str]:
    """Console lines up to the prompt, timestamps and carriage returns removed."""
    cut = text.find(PROMPT.decode())
    text = text[: cut + len(PROMPT) if cut >= 0 else len(text)].replace("\r", "")
    return _TIMESTAMP.sub("", text).splitlines(keepends=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=ROOT / "images/linux/out", help="tiny Linux image folder")
    parser.add_argument("--rounds", type=int, default=40_000, help="give up after this many rounds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        json.dump(boot(args.image.resolve(), args.rounds), sys.stdout)
        return 0
    runs = [run_engine(engine, args.image.resolve(), args.rounds) for engine in ("interp", "blocks")]
    for run in runs:
        low, high, distinct = run["quanta"]
        rounds = run["rounds"]
        print(
            f"{run['engine']:6} ({run['python']}): {len(rounds)} rounds to the prompt, per hart {rounds[-1]}, "
            f"full quantum {low}..{high} instructions ({distinct} distinct sizes)"
        )
    a, b = (run["rounds"] for run in runs)
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if first is None:
        print("instruction counts: the same in every round")
    else:
        print(f"instruction counts first differ after round {first + 1}: interp {a[first]} blocks {b[first]}")
    texts = [until_prompt(run["console"]) for run in runs]
    diff = list(difflib.unified_diff(texts[0], texts[1], "interp", "blocks", n=1))
    print("console to the prompt: " + ("the same" if not diff else "DIFFERS"))
    sys.stdout.writelines(diff[:40])
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
