"""The tiny Linux on the emulator's Unmatched (3 harts, PyPy) boots to the same console, byte for
byte, with every hot guest loop compiled (harness/emulator/loops.py) as without: each printk
timestamp is the guest clock, which moves with the harts' instruction counts (the busiest hart's
per scheduling round), so a region that ran a different count, or took an interrupt elsewhere,
shifts the log."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.emulator.host_env import interpreter_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 not installed (make deps installs it)"),
]

PROJECT = Path(__file__).resolve().parents[2]
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
PROMPT = b"hartbeat# "
STATS = re.compile(rb"hartbeat-emu: (\d+) instructions in (\d+) compiled guest loops")


def boot(image: Path, env: dict[str, str]) -> tuple[bytes, int, int]:
    """Boot to the shell's prompt and stop there (nothing is typed: input would arrive at a
    host-timed moment): the console up to the prompt, and the instructions run in compiled
    loops and how many loops."""
    argv = ["pypy3", "-m", "harness.emulator", "-M", "unmatched", "-smp", "3", "-m", "256M", "-nographic"]
    argv += ["-bios", FW_JUMP, "-kernel", str(image / "Image"), "-initrd", str(image / "initramfs.cpio")]
    argv += ["-append", "console=ttySIF0 earlycon"]
    base = dict(os.environ, PYTHONPATH=str(PROJECT), HARTBEAT_EMU_STATS="1", **env)
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=interpreter_env(base)
    )
    out = b""
    try:
        assert proc.stdout is not None
        while PROMPT not in out:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            out += chunk
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert PROMPT in out, out[-2000:]
    stats = STATS.search(err)
    assert stats is not None, err[-2000:]
    return out[: out.index(PROMPT)], int(stats.group(1)), int(stats.group(2))


@pytest.mark.timeout(600)
def test_linux_boots_to_the_same_console_with_every_hot_loop_compiled(linux_image: Path) -> None:
    plain, looped_plain, _ = boot(linux_image, {"HARTBEAT_EMU_LOOPS": "0"})
    compiled, looped, loops = boot(linux_image, {"HARTBEAT_EMU_LOOPS": "1", "HARTBEAT_EMU_LOOP_HEAT": "1"})
    assert looped_plain == 0
    # Compiled at their first hot run: the kernel's and OpenSBI's loops, page tables and
    # devices among them, some millions of instructions.
    assert loops >= 20, loops
    assert looped > 1_000_000, looped
    assert b"Linux version" in plain and b"smp: Brought up 1 node, 2 CPUs" in plain, plain[-2000:]
    if compiled != plain:
        lines = zip(plain.splitlines(), compiled.splitlines(), strict=False)
        first = next((a, b) for a, b in lines if a != b)
        pytest.fail(f"the consoles differ first at:\n  without: {first[0]!r}\n  with:    {first[1]!r}")
