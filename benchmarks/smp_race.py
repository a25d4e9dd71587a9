"""The tiny Linux on qemu-virt against OpenSBI 1.1's hart-start race, forced and left to chance.

Debian's OpenSBI 1.1 (``sbi_hsm_hart_start``) sets a hart's state to START_PENDING before it
writes the hart's start address; the hart, busy-polling because the cold-boot IPI is still
pending, can leave its wait in between and jump to the stale FW_JUMP_ADDR, the kernel's
``_start`` (fixed upstream in OpenSBI 1.3, commit e8e9ed37). This script

* forces that interleaving with gdb on QEMU's gdbstub: it stops the secondary hart in the
  firmware's poll loop (found by disassembling fw_jump.elf), watches its HSM state, stops the
  boot hart right after it publishes START_PENDING, runs the secondary alone to the kernel
  entry, then lets both go;
* boots the same image N times more without gdb and counts those that stall.

A kernel without the spinwait lottery (CONFIG_RISCV_BOOT_SPINWAIT) hangs in the forced case
right after ``smp: Bringing up secondary CPUs ...``; with it, the boot reaches /init on hart 0
with ``CPU1: failed to come online``::

    python benchmarks/smp_race.py [--boots 20] [--image DIR]

Exits 1 when the forced boot hangs or an ordinary boot stalls.
"""

from __future__ import annotations

import argparse
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "images" / "linux" / "out"
FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump")
KERNEL_ENTRY = 0x80200000  # fw_jump's FW_JUMP_ADDR on QEMU virt: the stale next_addr
BOOTED = b"Run /init as init process"
SILENCE = 20.0


def qemu_argv(image: Path, *extra: str) -> list[str]:
    """The qemu-virt board's command line for the tiny Linux (boards/qemu-virt.toml)."""
    return [
        "qemu-system-riscv64", "-machine", "virt", "-smp", "2", "-m", "256M", "-display", "none",
        "-serial", "stdio", "-monitor", "none", "-bios", f"{FIRMWARE}.bin",
        "-kernel", str(image / "Image"), "-initrd", str(image / "initramfs.cpio"),
        "-append", "console=ttyS0 earlycon", *extra,
    ]  # fmt: skip


def hsm_poll() -> tuple[int, str]:
    """The pc of the load in ``sbi_hsm_hart_wait``'s loop and the register holding &state.

    The loop is the one after ``csrs mie`` with MSIP|MEIP (0x808): ``j poll; wfi; poll: mv a0,REG;
    jal atomic_read; bne``.
    """
    text = subprocess.run(
        ["riscv64-linux-gnu-objdump", "-d", f"{FIRMWARE}.elf"], capture_output=True, text=True, check=True
    ).stdout
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "csrs\tmie,a5" in line and "# 808" in lines[i - 1]:
            for follow in lines[i + 1 : i + 4]:
                jump = re.search(r"\tj\t([0-9a-f]+)", follow)
                if jump:
                    target = int(jump.group(1), 16)
                    load = next(x for x in lines if x.strip().startswith(f"{target:x}:"))
                    reg = re.search(r"mv\ta0,(\w+)", load)
                    if reg:
                        return target, reg.group(1)
    raise SystemExit(f"{FIRMWARE}.elf: no sbi_hsm_hart_wait poll loop found (not Debian's OpenSBI 1.1?)")


def watch_console(proc: subprocess.Popen[bytes], out: bytearray) -> None:
    """Collect QEMU's console until it exits."""
    assert proc.stdout is not None
    for chunk in iter(lambda: os.read(proc.stdout.fileno(), 4096), b""):  # type: ignore[union-attr]
        out.extend(chunk)


def wait_booted(out: bytearray, limit: float) -> bool:
    """True once the kernel runs /init; False after ``SILENCE`` s without output or ``limit`` s."""
    start = last = time.monotonic()
    size = 0
    while BOOTED not in out:
        now = time.monotonic()
        if len(out) != size:
            size, last = len(out), now
        if now - last > SILENCE or now - start > limit:
            return False
        time.sleep(0.2)
    return True


def forced(image: Path, work: Path) -> tuple[bool, str]:
    """Boot with the race forced under gdb; (booted, the kernel's last lines about the bring-up)."""
    poll, reg = hsm_poll()
    sock = work / "gdb.sock"
    proc = subprocess.Popen(
        qemu_argv(image, "-S", "-gdb", f"unix:{sock},server=on,wait=off"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out = bytearray()
    threading.Thread(target=watch_console, args=(proc, out), daemon=True).start()
    try:
        while not sock.exists():
            time.sleep(0.05)
        # The first hart to reach the poll is the secondary (OpenSBI's lottery picks either hart
        # to boot); the watchpoint then stops the boot hart right after its cmpxchg.
        script = f"""set pagination off
set confirm off
set architecture riscv:rv64
target remote {sock}
break *{poll:#x}
continue
set $poller = $_thread
set $state = ${reg}
delete
watch *(int*)$state
continue
delete
set scheduler-locking on
eval "thread %d", $poller
break *{KERNEL_ENTRY:#x}
continue
printf "SECONDARY_ENTRY pc=%#lx a0=%ld\\n", $pc, $a0
delete
set scheduler-locking off
detach
"""
        (work / "race.gdb").write_text(script)
        gdb = subprocess.run(
            ["gdb-multiarch", "-q", "-batch", "-x", str(work / "race.gdb")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if f"SECONDARY_ENTRY pc={KERNEL_ENTRY:#x}" not in gdb.stdout:
            raise SystemExit(f"gdb did not force the race:\n{gdb.stdout[-2000:]}{gdb.stderr[-1000:]}")
        booted = wait_booted(out, 120.0)
    finally:
        proc.kill()
        proc.wait()
    # The kernel's own account of the bring-up: "smp: ...", "CPU1: failed to come online".
    smp = [x for x in out.decode(errors="replace").splitlines() if re.search(r"\] (smp|CPU\d+):", x)]
    return booted, " | ".join(smp[-3:])


def ordinary(image: Path) -> bool:
    """One boot without gdb: True when it reaches /init."""
    proc = subprocess.Popen(
        qemu_argv(image), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    out, start, last = b"", time.monotonic(), time.monotonic()
    try:
        while BOOTED not in out:
            if time.monotonic() - last > SILENCE or time.monotonic() - start > 120:
                return False
            if select.select([proc.stdout], [], [], 0.5)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    return False
                out, last = out + chunk, time.monotonic()
        return True
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    """Print the forced boot's outcome and the ordinary boots' stall count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=20, help="ordinary boots to count stalls in")
    parser.add_argument("--image", type=Path, default=OUT, help="folder with Image and initramfs.cpio")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        booted, tail = forced(options.image, Path(tmp))
    print(f"forced hart-start race: {'reached /init' if booted else 'HANG'} ({tail})")
    start = time.monotonic()
    stalls = sum(not ordinary(options.image) for _ in range(options.boots))
    seconds = time.monotonic() - start
    print(f"ordinary boots: {stalls} of {options.boots} stalled ({seconds / max(options.boots, 1):.1f} s a boot)")
    return 0 if booted and not stalls else 1


if __name__ == "__main__":
    sys.exit(main())
