"""Seconds from power-on to the init's prompt for hartbeat's Linux on every target.

QEMU boards run ``hartbeat run linux-boot`` and read the prompt milestone's time from
``report.json``; the emulator machines boot in-process to the prompt, which also gives the
instructions executed (the guest clock counts them, so the count is the same every time)::

    python benchmarks/linux_boot.py                 # tiny kernel (make linux-image first)
    python benchmarks/linux_boot.py --distro        # also Debian's kernel (make linux-distro)

Prints one line per target. Exits 1 when a boot does not reach the prompt.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.emulator.console import MemoryConsole  # noqa: E402
from harness.emulator.machine import Machine, MachineConfig  # noqa: E402

OUT = REPO / "images" / "linux" / "out"
DISTRO = REPO / "images" / "linux" / "out-distro" / "Image"
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
PROMPT = b"hartbeat# "
QEMU_BOARDS = (("qemu-virt", 1), ("qemu-virt", 2), ("qemu-sifive-u", 5))
EMULATOR_MACHINES = (("virt", 1, "ttyS0"), ("unmatched", 5, "ttySIF0"))


def qemu_seconds(board: str, smp: int, kernel: Path) -> float:
    """The prompt milestone's time of one linux-boot run."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "harness.cli", "run", "linux-boot", "--board", board, "--out", tmp]
        argv += ["--image", f"kernel={kernel}", "--set", f"qemu.smp={smp}"]
        subprocess.run(argv, cwd=REPO, capture_output=True, check=False, timeout=600)
        report = json.loads((Path(tmp) / "report.json").read_text())
    times = {m["name"]: m["t"] for m in report["milestones"]}
    if "prompt" not in times:
        raise SystemExit(f"{board}: no prompt ({report['verdict']})")
    return float(times["prompt"])


def emulator_boot(machine_name: str, smp: int, console_name: str, kernel: Path) -> tuple[float, int]:
    """Wall seconds and instructions from reset to the prompt, in-process."""
    console = MemoryConsole()
    config = MachineConfig(
        board=machine_name,
        smp=smp,
        ram_size=256 << 20,
        bios=FW_JUMP,
        kernel=str(kernel),
        initrd=str(OUT / "initramfs.cpio"),
        append=f"console={console_name} earlycon",
    )
    machine = Machine(config, console)
    started = time.monotonic()
    while PROMPT not in console.output:
        if time.monotonic() - started > 3600:
            raise SystemExit(f"emulator {machine_name}: no prompt within an hour")
        if not machine.step_round():
            machine.idle()
    return time.monotonic() - started, sum(h.icount for h in machine.harts)


def main() -> int:
    """Boot each target and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distro", action="store_true", help="also Debian's distro kernel")
    parser.add_argument("--no-emulator", action="store_true", help="QEMU only")
    args = parser.parse_args()
    # The tiny image is built (or found in its cache) first; the distro kernel must be fetched.
    subprocess.run(
        [sys.executable, str(REPO / "images" / "linux" / "build.py"), "--quiet"], check=True, stdout=subprocess.DEVNULL
    )
    kernels = [("tiny", OUT / "Image")] + ([("distro", DISTRO)] if args.distro else [])
    for label, kernel in kernels:
        for board, smp in QEMU_BOARDS:
            seconds = qemu_seconds(board, smp, kernel)
            print(f"{board}, {smp} hart(s), {label} kernel: {seconds:.2f} s to the prompt", flush=True)
        if args.no_emulator:
            continue
        for machine_name, smp, console_name in EMULATOR_MACHINES:
            seconds, instructions = emulator_boot(machine_name, smp, console_name, kernel)
            print(
                f"emulator {machine_name}, {smp} hart(s), {label} kernel: {seconds:.1f} s to the prompt, "
                f"{instructions / 1e6:.1f} M instructions",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
