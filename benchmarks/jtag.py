"""The emulator's JTAG port: what it costs when off, and how fast OpenOCD reads the harts.

1. Emulator speed on the bare-metal compute loop of emulator_speed.py, three ways in one run,
   runs interleaved, median of --repeats: the emulator *without* debug support (the tree at
   --baseline, by default the commit before harness/emulator/debug was added, taken with
   ``git archive``), the emulator with the port off (the default), and with ``-jtag tcp:0``
   listening and no debugger attached. Goal: off vs without within noise.
2. Verdict to autopsy through real OpenOCD, five ways, runs interleaved. Each autopsy is one
   process (as one run is): it starts the emulator's unmatched machine (5 harts spinning) with
   its JTAG port, powers it on, and after POWER_ON_S calls ``take_autopsy`` as the runner does
   on a serial board whose ``[jtag]`` names the emulator's OpenOCD config:
   - the tree at --autopsy-baseline (by default the commit before OpenOCD stood by from
     power-on): its emulator and probe, OpenOCD started at the verdict -- the baseline;
   - this tree, OpenOCD started at the verdict;
   - this tree, OpenOCD started at power-on and standing by (what a serial board does now);
   - this tree, a running OpenOCD's Tcl port (``[jtag] tcl``, as on a lab host).
   The autopsy's duration, how many of its 5 samples fit, the ratio to the baseline.
   Goal: at most 2 s.

Usage: python benchmarks/jtag.py [--repeats N] [--baseline REV] [--autopsy-baseline REV] [--skip-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_speed import LINK_LD, build_compute_elf

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "boards" / "openocd" / "emulator.cfg"
# The module whose arrival is the autopsy's default baseline (the commit before it).
STANDBY = "harness/targets/openocd_standby.py"
STATS_RE = re.compile(r"hartbeat-emu: (\d+) instructions in ([\d.]+) s .*\nhartbeat-emu: ([\d.]+) s of CPU")
# How long before the verdict the board was powered on (OpenOCD started) in the standing-by runs.
POWER_ON_S = 2.0
# One autopsy in its own process, run with a tree's own code (PYTHONPATH): argv is the spin ELF,
# the OpenOCD config, the way (verdict, standby, tcl) and POWER_ON_S; prints the duration and
# samples as JSON. "standby" and "tcl" use names of this tree only.
ONE_AUTOPSY = r"""
import json, socket, subprocess, sys, time
from pathlib import Path
from harness.autopsy.model import AutopsySettings
from harness.model.board import Board
from harness.probes.take import take_autopsy
from harness.targets.fake import FakeTarget
elf, config, way, power_on = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
emu = subprocess.Popen(
    [sys.executable, "-m", "harness.emulator", "-M", "unmatched", "-bios", "none", "-kernel", elf,
     "-nographic", "-jtag", "tcp:0"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
)
ocd = None
try:
    port = emu.stderr.readline().rsplit(":", 1)[1].strip()
    variables = {"RBB_PORT": port, "HARTS": "5", "IDCODE": "0x20000913"}
    jtag = {"config": config, "set": variables}
    target = FakeTarget()
    if way == "standby":
        from harness.targets.openocd import jtag_settings
        from harness.targets.openocd_standby import StandbyOpenOcd

        class PoweredOn(FakeTarget):
            def __init__(self, standby):
                super().__init__()
                self.standby = standby

            def take_openocd(self, deadline):
                try:
                    return self.standby.take(deadline)
                finally:
                    self.standby.close()

        standby = StandbyOpenOcd(jtag_settings(Board(name="b", path=Path(config), target="serial",
                                                     settings={"jtag": jtag})))
        standby.start()
        target = PoweredOn(standby)
    elif way == "tcl":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            tcl_port = s.getsockname()[1]
        ocd = subprocess.Popen(
            ["openocd", "-c", "; ".join(f"set {k} {v}" for k, v in variables.items()), "-f", config,
             "-c", f"gdb_port disabled; telnet_port disabled; tcl_port {tcl_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        jtag = {"tcl": f"127.0.0.1:{tcl_port}"}
    time.sleep(power_on)
    board = Board(name="bench-serial", path=Path(config).parent / "bench.toml", target="serial",
                  settings={"jtag": jtag})
    a = take_autopsy(target, board, AutopsySettings(), None)
    ok = a.available and len(a.harts) == 5
    print(json.dumps({"ok": ok, "duration": a.duration, "samples": a.samples, "summary": a.diagnosis.summary}))
finally:
    if ocd is not None:
        ocd.terminate()
        ocd.wait(10)
    emu.terminate()
    emu.wait(10)
"""
SPIN_S = r"""
    .section .text.entry, "ax"
    .globl _start
_start:
    li s2, 0
1:  addi s2, s2, 1
    j 1b
"""


def default_baseline(added: str = "harness/emulator/debug/__init__.py") -> str:
    """The parent of the commit that added ``added`` (by default harness/emulator/debug)."""
    out = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%h", "--", added],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return f"{out[-1]}^"


def checkout(rev: str, into: Path) -> Path:
    """The tree at ``rev`` extracted into ``into`` (for running its emulator)."""
    archive = subprocess.run(["git", "archive", rev, "harness"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_compute(tree: Path, elf: Path, extra: tuple[str, ...]) -> tuple[float, float, int]:
    """(wall s, CPU s, instructions) of the compute loop to power-off on ``tree``'s emulator."""
    argv = [sys.executable, "-m", "harness.emulator", "-M", "virt", "-nographic", "-bios", "none"]
    argv += ["-kernel", str(elf), *extra]
    env = {"HARTBEAT_EMU_STATS": "1", "PATH": "/usr/bin:/bin", "HARTBEAT_EMU_ENGINE": "blocks"}
    done = subprocess.run(argv, cwd=tree, capture_output=True, text=True, env=env, timeout=600, check=True)
    match = STATS_RE.search(done.stderr.replace("\r", ""))
    assert match, done.stderr
    return float(match.group(2)), float(match.group(3)), int(match.group(1))


def speed(repeats: int, baseline: str) -> None:
    """Part 1: without / port off / port listening."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        elf = build_compute_elf(work, 40)
        (work / "base").mkdir()
        variants = {
            f"without debug support ({baseline})": (checkout(baseline, work / "base"), ()),
            "JTAG port off (default)": (ROOT, ()),
            "JTAG port on, no debugger": (ROOT, ("-jtag", "tcp:0")),
        }
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        count = 0
        for _ in range(repeats):
            for name, (tree, extra) in variants.items():
                _, seconds, count = run_compute(tree, elf, extra)
                cpu[name].append(seconds)
        print(
            f"compute loop, virt, 1 hart, CPython blocks engine: {count} instructions, CPU seconds over {repeats} runs"
        )
        base = statistics.median(next(iter(cpu.values())))
        for name, values in cpu.items():
            median = statistics.median(values)
            spread = ", ".join(f"{v:.2f}" for v in values)
            print(
                f"  {name:45s} median {median:6.2f} s  {count / median / 1e6:5.2f} MIPS  x{median / base:.3f}"
                f"  ({spread})"
            )


def autopsy_time(repeats: int, baseline: str) -> None:
    """Part 2: the wedge autopsy of five harts through OpenOCD (take_autopsy, as the runner calls it)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "link.ld").write_text(LINK_LD)
        (work / "spin.S").write_text(SPIN_S)
        elf = work / "spin.elf"
        subprocess.run(
            ["riscv64-unknown-elf-gcc", "-march=rv64imac_zicsr", "-mabi=lp64", "-nostdlib", "-nostartfiles",
             "-T", str(work / "link.ld"), "-o", str(elf), str(work / "spin.S")],
            check=True,
        )  # fmt: skip
        (work / "base").mkdir()
        base = checkout(baseline, work / "base")
        ways = {
            f"{baseline}: OpenOCD started at the verdict (baseline)": (base, "verdict"),
            "OpenOCD started at the verdict": (ROOT, "verdict"),
            "OpenOCD started at power-on, standing by": (ROOT, "standby"),
            "a running OpenOCD's Tcl port": (ROOT, "tcl"),
        }
        figures: dict[str, list[tuple[float, int]]] = {label: [] for label in ways}
        for _ in range(repeats):
            for label, (tree, way) in ways.items():
                outcome = _one_autopsy(tree, elf, way)
                if isinstance(outcome, str):
                    print(f"  {label}: a run gave {outcome}")
                else:
                    figures[label].append(outcome)
    _report(figures)


def _one_autopsy(tree: Path, elf: Path, way: str) -> tuple[float, int] | str:
    """One autopsy by ``tree``'s code on its own emulator: (duration, samples), or why not."""
    done = subprocess.run(
        [sys.executable, "-c", ONE_AUTOPSY, str(elf), str(CONFIG), way, str(POWER_ON_S)],
        cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    try:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return f"no result: {done.stderr.strip()[-300:]}"
    return (result["duration"], result["samples"]) if result["ok"] else str(result["summary"])


def _report(figures: dict[str, list[tuple[float, int]]]) -> None:
    base = [d for d, _ in next(iter(figures.values()))]
    print("verdict to autopsy of 5 harts through OpenOCD (emulator unmatched, remote_bitbang), goal <= 2 s:")
    for label, runs in figures.items():
        if not runs:
            print(f"  {label}: no autopsy")
            continue
        spread = ", ".join(f"{d:.2f} s/{n}" for d, n in runs)
        median = statistics.median(d for d, _ in runs)
        ratio = f"  x{median / statistics.median(base):.2f}" if base else ""
        print(f"  {label:62s} median {median:5.2f} s{ratio}  (s/samples: {spread})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="git revision of the emulator without debug support")
    parser.add_argument(
        "--autopsy-baseline", help="git revision whose autopsy is the baseline (OpenOCD started at the verdict)"
    )
    parser.add_argument("--skip-speed", action="store_true")
    options = parser.parse_args()
    if shutil.which("openocd") is None:
        print("openocd not installed (make deps): skipping the OpenOCD figures")
    else:
        autopsy_time(options.repeats, options.autopsy_baseline or default_baseline(STANDBY))
    if not options.skip_speed:
        speed(options.repeats, options.baseline or default_baseline())
    return 0


if __name__ == "__main__":
    sys.exit(main())
