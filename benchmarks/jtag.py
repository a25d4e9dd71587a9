"""The emulator's JTAG port: what it costs when off, and how fast OpenOCD reads the harts.

1. Emulator speed on the bare-metal compute loop of emulator_speed.py, three ways in one run,
   runs interleaved, median of --repeats: the emulator *without* debug support (the tree at
   --baseline, by default the commit before harness/emulator/debug was added, taken with
   ``git archive``), the emulator with the port off (the default), and with ``-jtag tcp:0``
   listening and no debugger attached. Goal: off vs without within noise.
2. Verdict to autopsy through real OpenOCD: the emulator's unmatched machine (5 harts) running,
   ``take_autopsy`` on a serial board whose ``[jtag]`` names an OpenOCD config, three ways,
   runs interleaved: OpenOCD started at the verdict (the baseline: what the autopsy did before
   the serial target started it at power-on), OpenOCD started at power-on and standing by (what
   a serial board does now; "power-on" is 2 s before the verdict), and a running OpenOCD's Tcl
   port (as on a lab host). The autopsy's duration, how many of its 5 samples fit, and the
   ratio to the baseline. Goal: at most 2 s.

Usage: python benchmarks/jtag.py [--repeats N] [--baseline REV] [--skip-speed]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator_speed import LINK_LD, build_compute_elf

from harness.autopsy.model import AutopsySettings
from harness.model.board import Board
from harness.probes.take import take_autopsy
from harness.targets.base import Target
from harness.targets.fake import FakeTarget
from harness.targets.openocd import JtagSettings, OpenOcd, jtag_settings
from harness.targets.openocd_standby import StandbyOpenOcd

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "boards" / "openocd" / "emulator.cfg"
STATS_RE = re.compile(r"hartbeat-emu: (\d+) instructions in ([\d.]+) s .*\nhartbeat-emu: ([\d.]+) s of CPU")
# How long before the verdict the board was powered on (OpenOCD started) in the standing-by runs.
POWER_ON_S = 2.0
SPIN_S = r"""
    .section .text.entry, "ax"
    .globl _start
_start:
    li s2, 0
1:  addi s2, s2, 1
    j 1b
"""


def default_baseline() -> str:
    """The parent of the commit that added harness/emulator/debug."""
    out = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "harness/emulator/debug/__init__.py"],
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _board(jtag: dict[str, object]) -> Board:
    return Board(
        name="bench-serial", path=CONFIG.parent.parent / "bench.toml", target="serial", settings={"jtag": jtag}
    )


def autopsy_time(repeats: int) -> None:
    """Part 2: the wedge autopsy of five harts through OpenOCD (take_autopsy, as the runner calls it)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "spin.S"
        src.write_text(SPIN_S)
        elf = Path(tmp) / "spin.elf"
        (Path(tmp) / "link.ld").write_text(LINK_LD)
        subprocess.run(
            ["riscv64-unknown-elf-gcc", "-march=rv64imac_zicsr", "-mabi=lp64", "-nostdlib", "-nostartfiles",
             "-T", str(Path(tmp) / "link.ld"), "-o", str(elf), str(src)],
            check=True,
        )  # fmt: skip
        emu = subprocess.Popen(
            [sys.executable, "-m", "harness.emulator", "-M", "unmatched", "-bios", "none", "-kernel", str(elf),
             "-nographic", "-jtag", "tcp:0"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert emu.stderr is not None
        port = int(emu.stderr.readline().rsplit(":", 1)[1])
        variables = {"RBB_PORT": str(port), "HARTS": "5", "IDCODE": "0x20000913"}
        board = _board({"config": str(CONFIG), "set": variables})
        settings = jtag_settings(board)
        assert settings is not None
        ocd: subprocess.Popen[str] | None = None
        try:
            ways: dict[str, Callable[[], Target]] = {
                "OpenOCD started at the verdict (baseline)": FakeTarget,
                "OpenOCD started at power-on, standing by": lambda: _powered_on(settings),
            }
            figures = _measure(board, ways, repeats)
            # The emulator serves one debugger at a time: the running OpenOCD comes after.
            tcl_port = _free_port()
            ocd = subprocess.Popen(
                ["openocd", "-c", f"set RBB_PORT {port}; set HARTS 5; set IDCODE 0x20000913", "-f", str(CONFIG),
                 "-c", f"gdb_port disabled; telnet_port disabled; tcl_port {tcl_port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert ocd.stderr is not None
            for line in ocd.stderr:
                if "Listening on port" in line and "tcl" in line:
                    break
            running = _board({"tcl": f"127.0.0.1:{tcl_port}"})
            figures |= _measure(running, {"a running OpenOCD's Tcl port": FakeTarget}, repeats)
        finally:
            if ocd is not None:
                ocd.terminate()
                ocd.wait(10)
            emu.terminate()
            emu.wait(10)
    _report(figures)


class _PoweredOn(FakeTarget):
    """A serial board's JTAG as the target holds it after power-on: OpenOCD standing by."""

    def __init__(self, standby: StandbyOpenOcd) -> None:
        super().__init__()
        self.standby = standby

    def take_openocd(self, deadline: float) -> OpenOcd | None:
        try:
            return self.standby.take(deadline)
        finally:
            self.standby.close()


def _powered_on(settings: JtagSettings) -> Target:
    standby = StandbyOpenOcd(settings)
    standby.start()
    time.sleep(POWER_ON_S)
    return _PoweredOn(standby)


def _measure(board: Board, ways: dict[str, Callable[[], Target]], repeats: int) -> dict[str, list[tuple[float, int]]]:
    """Each way's (duration, samples) over ``repeats`` interleaved autopsies (a failed one is told)."""
    figures: dict[str, list[tuple[float, int]]] = {label: [] for label in ways}
    for _ in range(repeats):
        for label, make in ways.items():
            target = make()
            autopsy = take_autopsy(target, board, AutopsySettings(), None)
            if autopsy.available and len(autopsy.harts) == 5:
                figures[label].append((autopsy.duration, autopsy.samples))
            else:
                print(f"  {label}: a run gave {autopsy.diagnosis.summary}")
            time.sleep(1.0)  # the stopped OpenOCD lets go of the emulator's port
    return figures


def _report(figures: dict[str, list[tuple[float, int]]]) -> None:
    base = [d for d, _ in next(iter(figures.values()))]
    for label, runs in figures.items():
        spread = ", ".join(f"{d:.2f} s/{n}" for d, n in runs)
        if not runs:
            print(f"autopsy of 5 harts, {label}: no autopsy")
            continue
        median = statistics.median(d for d, _ in runs)
        ratio = f"  x{median / statistics.median(base):.2f}" if base else ""
        print(f"autopsy of 5 harts, {label:42s} median {median:5.2f} s{ratio}  (goal <= 2 s; s/samples: {spread})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="git revision of the emulator without debug support")
    parser.add_argument("--skip-speed", action="store_true")
    options = parser.parse_args()
    if shutil.which("openocd") is None:
        print("openocd not installed (make deps): skipping the OpenOCD figures")
    else:
        autopsy_time(options.repeats)
    if not options.skip_speed:
        speed(options.repeats, options.baseline or default_baseline())
    return 0


if __name__ == "__main__":
    sys.exit(main())
