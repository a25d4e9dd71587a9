"""The scripted board every peer watches in ``benchmarks/peers.py``: one program, three workloads.

    python board.py firehose --stamps S.json [--megabytes 20] [--pty LINK]
    python board.py wedge    --stamps S.json [--pty LINK]
    python board.py panic    --stamps S.json [--pty LINK]

It prints a console on stdout (a pipe or a pty, as the tool under test spawns it) or, with
``--pty LINK``, on a pseudo-terminal whose path it writes to LINK: that is a serial port for tools
that open one, and the board powers on when the port is opened. ``--stamps`` receives the
CLOCK_MONOTONIC times (shared by every process on the machine) of the first byte, of the panic
line and of the last byte before the board goes quiet, so each tool's latency is measured from
the board's own clock.

- firehose: trace lines, a kernel panic line in the middle, trace lines up to the size, an end
  marker; then it stays alive and silent.
- wedge: an OpenSBI + U-Boot banner, then silence; alive, no login prompt ever.
- panic: the boot up to the kernel, a kernel panic, then a heartbeat line every second (alive).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
import tty
from pathlib import Path

TRACE = "tm_msg 0x200   <- TM_REQ_MMAP     (spawn args page) seq=%08d pid=17 tid=3\r\n"
MARKER = "FIREHOSE-END"
PANIC = "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"
BANNER = [
    "",
    "OpenSBI v1.2",
    "Platform Name             : SiFive HiFive Unmatched A00",
    "Boot HART ID              : 1",
    "",
    "U-Boot 2023.01+dfsg-2 (Jan 21 2023 - 12:00:00 +0000)",
    "",
    "CPU:   rv64imafdc",
    "Model: SiFive HiFive Unmatched A00",
    "DRAM:  16 GiB",
]
KERNEL = [
    "Hit any key to stop autoboot:  0 ",
    "Starting kernel ...",
    "",
    "[    0.000000] Linux version 6.1.0-hartbeat (gcc 12.2.0) #1 SMP",
    "[    0.000000] Machine model: SiFive HiFive Unmatched A00",
    '[    0.412000] VFS: Cannot open root device "mmcblk0p4" or unknown-block(0,0): error -6',
    PANIC,
    "CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-hartbeat #1",
    "---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---",
]


class Console:
    """Where the board writes, and the stamps it keeps."""

    def __init__(self, fd: int, stamps: Path) -> None:
        self.fd = fd
        self.stamps_path = stamps
        self.stamps: dict[str, float] = {}

    def write(self, data: bytes) -> None:
        """Write all of ``data`` (a full pipe or pty blocks us, as a UART's FIFO would)."""
        if "first" not in self.stamps:
            self.stamps["first"] = time.monotonic()
            self.publish()  # a slow reader may never let the board get further
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.stamps["last"] = time.monotonic()

    def lines(self, lines: list[str]) -> None:
        """Write console lines, CR LF terminated like a UART console."""
        self.write("".join(line + "\r\n" for line in lines).encode())

    def stamp(self, name: str) -> None:
        """Record a named moment and publish all stamps so far."""
        self.stamps[name] = time.monotonic()
        self.publish()

    def publish(self) -> None:
        """Write the stamps file atomically (a reader may look at any time)."""
        temp = self.stamps_path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.stamps))
        temp.replace(self.stamps_path)


def open_pty(link: Path) -> int:
    """A pseudo-terminal whose slave path is written to ``link``; returns once a tool opened it."""
    master, slave = os.openpty()
    tty.setraw(slave)  # a serial line is 8-bit clean: no echo, no CR/LF rewriting
    temp = link.with_suffix(".tmp")
    temp.write_text(os.ttyname(slave))
    temp.replace(link)
    os.close(slave)
    poll = select.poll()
    poll.register(master, select.POLLHUP)
    # While nobody holds the slave open, the master reports a hang-up: that is the power button.
    while poll.poll(0):
        time.sleep(0.005)
    return master


def firehose(console: Console, megabytes: int) -> None:
    """Trace lines with a panic line in the middle, then the end marker."""
    block = "".join(TRACE % i for i in range(1000)).encode()
    total = megabytes * 1024 * 1024
    written = 0
    panicked = False
    while written < total:
        if not panicked and written >= total // 2:
            half = block.rfind(b"\n", 0, len(block) // 2) + 1
            console.write(block[:half])
            console.stamp("panic")
            console.write(PANIC.encode() + b"\r\n" + block[half:])
            panicked = True
        else:
            console.write(block)
        written += len(block)
    console.lines([MARKER])


def main() -> None:
    """Play one workload, then stay alive until the tool closes the console."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["firehose", "wedge", "panic"])
    parser.add_argument("--stamps", type=Path, required=True)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--pty", type=Path, help="serve the console on a pty; write its path here")
    args = parser.parse_args()
    fd = open_pty(args.pty) if args.pty else sys.stdout.fileno()
    console = Console(fd, args.stamps)
    try:
        if args.workload == "firehose":
            firehose(console, args.megabytes)
        elif args.workload == "wedge":
            console.lines(BANNER)
        else:
            console.lines(BANNER)
            time.sleep(0.2)
            console.lines(KERNEL[:-3])
            console.stamp("panic")
            console.lines(KERNEL[-3:])
        console.publish()
        beat = 0
        while True:
            time.sleep(1.0)
            if args.workload == "panic":
                beat += 1
                console.lines([f"[  {beat:4d}.000000] watchdog: heartbeat {beat}, target alive"])
    except OSError:
        pass  # the tool closed the console (EIO on a pty, EPIPE on a pipe): the board is off


if __name__ == "__main__":
    main()
