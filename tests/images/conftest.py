"""Fixtures for the qsoe-sim image tests: build images once per session, boot them under QEMU."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pexpect
import pytest
from pexpect.popen_spawn import PopenSpawn

SRC_DIR = Path(__file__).resolve().parents[2] / "images" / "qsoe-sim"
QEMU = "qemu-system-riscv64"
CC = "riscv64-unknown-elf-gcc"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The flaky window: once the SPAWN trace is out, a healthy boot reaches login in
# microseconds. A second leaves room for a loaded CI box without slowing the suite much.
WEDGE_GRACE_S = 1.0
# How long a boot may take to spawn level1.sh at all (see Console.outcome).
SPAWN_WAIT_S = 60.0


def require_tools(*tools: str) -> None:
    """Skip the calling test when a tool is missing (CI installs them all)."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")


class Console:
    """A QEMU virt boot of one image, driven through its serial console."""

    def __init__(self, elf: Path, append: str = "") -> None:
        args = ["-M", "virt", "-bios", "none", "-nographic", "-m", "128M", "-smp", "2", "-kernel", str(elf)]
        if append:
            args += ["-append", append]
        # Pipes, not a pty: QEMU leaves OPOST on, so a pty would turn the guest's CRLF into CR CR LF.
        self.child = PopenSpawn([QEMU, *args], timeout=10)

    def expect(self, pattern: str | list, timeout: float = 10) -> int:
        """pexpect.expect; a pattern list may include pexpect.TIMEOUT / pexpect.EOF."""
        return self.child.expect(pattern, timeout=timeout)

    @property
    def text(self) -> str:
        """What the last expect() consumed: text before the match plus the match."""
        after = self.child.after if isinstance(self.child.after, bytes) else b""
        return (self.child.before + after).decode(errors="replace")

    def sendline(self, line: str) -> None:
        """Type a line as a terminal would, ending it with CR."""
        self.child.send(line + "\r")

    def read_for(self, seconds: float) -> bytes:
        """Everything the guest prints during the next ``seconds``."""
        out = bytearray(self.child.buffer)
        self.child.buffer = b""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out += self.child.read_nonblocking(65536, timeout=left)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
        return bytes(out)

    def cpu_seconds(self) -> float:
        """User + system CPU time QEMU has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def outcome(self) -> str:
        """``"login"`` or ``"wedge"`` for a boot that gets as far as spawning level1.sh."""
        # Reached in about 0.3 s; a loaded CI box once took more than 10 s (with two wedged
        # boots spinning beside it), so wait long, and say what the boot printed if it never comes.
        if self.expect([r"TM_REQ_SPAWN\s+exec level1\.sh\r\n", pexpect.TIMEOUT], timeout=SPAWN_WAIT_S) != 0:
            printed = self.child.before.decode(errors="replace")[-800:]
            raise AssertionError(f"no TM_REQ_SPAWN within {SPAWN_WAIT_S:g} s; the boot printed:\n{printed}")
        return "login" if self.expect(["login: ", pexpect.TIMEOUT], timeout=WEDGE_GRACE_S) == 0 else "wedge"

    @property
    def alive(self) -> bool:
        """True while QEMU is running."""
        return self.child.proc.poll() is None

    def wait_exit(self, timeout: float = 10) -> int:
        """Wait for QEMU to exit on its own; returns its exit status."""
        self.expect(pexpect.EOF, timeout=timeout)
        return self.child.proc.wait(timeout=timeout)

    def close(self) -> None:
        """Kill QEMU if it is still running."""
        if self.alive:
            self.child.proc.kill()
        self.child.proc.wait()
        # stdout belongs to PopenSpawn's reader thread, which stops at EOF by itself.
        if self.child.proc.stdin:
            self.child.proc.stdin.close()


@pytest.fixture(scope="session")
def build_image(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build (once per configuration) an image; returns ``build(**make_vars) -> qsoe.elf``.

    All builds share one object directory, so only build.c is compiled per configuration.
    """
    require_tools(CC, "make")
    root = tmp_path_factory.mktemp("qsoe")
    built: dict[tuple, Path] = {}

    def build(**make_vars: str | int) -> Path:
        key = tuple(sorted(make_vars.items()))
        if key not in built:
            out = root / f"b{len(built)}"
            cmd = ["make", "-s", "-f", str(SRC_DIR / "Makefile"), f"BUILD_DIR={out}", f"OBJ_DIR={root / 'obj'}"]
            cmd += [f"{k}={v}" for k, v in make_vars.items()]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            built[key] = out / "qsoe.elf"
        return built[key]

    return build


@pytest.fixture
def boot() -> Iterator[Callable[..., Console]]:
    """Start QEMU on an image; every console is killed at teardown."""
    require_tools(QEMU)
    consoles: list[Console] = []

    def start(elf: Path, append: str = "") -> Console:
        console = Console(elf, append)
        consoles.append(console)
        return console

    yield start
    for console in consoles:
        console.close()


@pytest.fixture(scope="session")
def qsoe_src() -> Path:
    """The image's source folder (images/qsoe-sim)."""
    return SRC_DIR


@pytest.fixture(scope="session")
def make_series() -> ModuleType:
    """images/qsoe-sim/make_series.py as a module (its folder name is not importable)."""
    spec = importlib.util.spec_from_file_location("qsoe_make_series", SRC_DIR / "make_series.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
