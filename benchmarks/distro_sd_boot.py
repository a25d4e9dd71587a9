"""Debian's distro kernel from the SD card, with each board's own Debian DTB: emulator vs QEMU.

    python benchmarks/distro_sd_boot.py [--cap 540]

Cards: images/sdcard/build.py with ``--kernel images/linux/out-distro/Image`` (Debian's
linux-image-riscv64, `make linux-distro`) and the tiny Linux's initramfs (its init prints the
`hartbeat#` shell), for the Unmatched (hifive-unmatched-a00.dtb) and the Unleashed
(hifive-unleashed-a00.dtb); cached by their inputs after the first build. Boot: the plan
`unmatched-boot` as it ships, each as a `hartbeat run` with ``--image sdcard=``: on
qemu-sifive-u-sd (QEMU's sifive_u, the baseline in the same run) and on emulator-unmatched-sd
(the FU740 model: mask ROM -> SPL -> OpenSBI + U-Boot -> extlinux -> Debian's kernel). Host
seconds from power-on to the kernel's start, `Linux version` and the shell; a run that does not
reach the shell within ``--cap`` host seconds is stopped (SIGTERM: the run still writes its
report) and the line says which milestone it reached last. Goal for the emulator: the shell
within 120 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "images" / "sdcard" / "build.py"
DISTRO_IMAGE = REPO / "images" / "linux" / "out-distro" / "Image"
SHOWN = ("starting-kernel", "linux", "shell")
GOAL_S = 120.0


def distro_card(board: str) -> Path:
    """The board's card with Debian's kernel (built once, then a cache hit)."""
    args = [sys.executable, str(BUILD), "--board", board, "--kernel", str(DISTRO_IMAGE), "--no-link", "--quiet"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def run_plan(board: str, card: Path, out: Path, cap: float) -> dict[str, float]:
    """`hartbeat run unmatched-boot` on ``board`` with ``card``; milestone -> host seconds."""
    command = [sys.executable, "-m", "harness.cli", "run", "unmatched-boot", "--board", board]
    command += ["--image", f"sdcard={card}", "--out", str(out)]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
    report = json.loads((out / "report.json").read_text())
    return {m["name"]: m["host_t"] if m.get("host_t") is not None else m["t"] for m in report["milestones"]}


def describe(name: str, times: dict[str, float], cap: float) -> str:
    """The figures of one run, or where it stopped."""
    shown = ", ".join(f"{m} {times[m]:.1f} s" for m in SHOWN if m in times)
    if "shell" in times:
        return f"{name} power-on -> Debian kernel shell: {times['shell']:.1f} s ({shown})"
    last = next(reversed(times), "nothing")
    reached = f" ({shown})" if shown else ""
    return f"{name} power-on -> Debian kernel shell: not within {cap:.0f} s; last milestone {last}{reached}"


def main() -> int:
    """Build the cards, run both boots, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=float, default=540.0, help="host seconds a boot may take (default 540)")
    args = parser.parse_args()
    if not DISTRO_IMAGE.exists():
        raise SystemExit(f"{DISTRO_IMAGE}: missing; run `make linux-distro` first")
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("HARTBEAT_LOCK_DIR", folder)
        qemu = run_plan("qemu-sifive-u-sd", distro_card("unleashed"), Path(folder) / "qemu", args.cap)
        emulator = run_plan("emulator-unmatched-sd", distro_card("unmatched"), Path(folder) / "emu", args.cap)
    print(describe("qemu-sifive-u-sd (Unleashed DTB)", qemu, args.cap))
    print(describe("emulator-unmatched-sd (Unmatched DTB)", emulator, args.cap) + f" (goal {GOAL_S:.0f} s)")
    if "shell" in qemu and "shell" in emulator:
        ratio = emulator["shell"] / qemu["shell"]
        print(f"emulator / QEMU sifive_u, Debian kernel from the card to the shell: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
