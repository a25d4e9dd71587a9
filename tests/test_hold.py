"""``hartbeat run --hold``: a wedged QEMU kept stopped, Debian's gdb-multiarch attached for real."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.hold import gdb_command
from harness.results import RunResult

PROJECT = Path(__file__).resolve().parents[1]
QSOE = PROJECT / "images" / "qsoe-sim"
GDB = "gdb-multiarch"


def test_gdb_command_names_elf_files_only_and_the_stub(tmp_path: Path) -> None:
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF" + bytes(60))
    kernel = tmp_path / "my kernel"
    kernel.write_bytes(b"\x7fELF" + bytes(60))
    system_map = tmp_path / "System.map"
    system_map.write_text("ffffffff80000000 T _start\n")
    command = shlex.split(gdb_command(("localhost", 1234), [elf, system_map, kernel, tmp_path / "absent"]))
    assert command[0] == GDB
    assert command[command.index(f"file {elf}") - 1] == "-ex"
    assert f"add-symbol-file {kernel}" in command
    assert not any("System.map" in part for part in command)
    assert command[-1] == "target remote localhost:1234"


def test_a_target_without_a_gdbstub_is_not_held(
    scripted_board: Callable[[str], Path], plan_file: Callable[[str], Path], run_plan: Callable[..., RunResult]
) -> None:
    plan = plan_file('name = "p"\nsilence = "0.3s"\n[[milestone]]\nname = "login"\nexpect = "login:"\n')
    started = time.monotonic()
    result = run_plan(plan, scripted_board("say booting\nhang\n"), hold=True)
    assert result.verdict.kind.value == "wedge"
    assert time.monotonic() - started < 15


@pytest.fixture(scope="module")
def qsoe_wedge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("riscv64-unknown-elf-gcc", "make", "qemu-system-riscv64", GDB):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make deps)")
    out = tmp_path_factory.mktemp("qsoe-wedge")
    proc = subprocess.run(
        ["make", "-s", "-C", str(QSOE), f"BUILD_DIR={out}", f"OBJ_DIR={out / 'obj'}", "FAULT=wedge"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "qsoe.elf"


def test_hold_keeps_qemu_stopped_for_gdb_multiarch_until_ctrl_c(qsoe_wedge: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            "qsoe-boot",
            "--board",
            "qemu-qsoe",
            "--image",
            f"kernel={qsoe_wedge}",
            "--hold",
            "--out",
            str(out),
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        command = ""
        deadline = time.monotonic() + 60
        seen = []
        while not command and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
            if line.strip().startswith(GDB):
                command = line.strip()
        assert command, "".join(seen)
        assert "-ex 'file " in command and "qsoe.elf" in command
        # Held: the verdict is on disk already, QEMU is up and its guest stopped.
        assert json.loads((out / "report.json").read_text())["verdict"]["kind"] == "wedge"
        gdb = subprocess.run(
            [*shlex.split(command), "-batch", "-ex", "info registers pc", "-ex", "info threads"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert gdb.returncode == 0, gdb.stdout + gdb.stderr
        # pc is in one of the two lock functions, named from qsoe.elf's symbols.
        pc_line = next(line for line in gdb.stdout.splitlines() if line.startswith("pc"))
        assert "<spin_lock" in pc_line, gdb.stdout
        assert "Thread 1.2" in gdb.stdout  # both harts, as gdb's threads
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, rest
    assert "qsoe-boot on qemu-qsoe: WEDGE" in rest
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"]["kind"] == "wedge"
    assert report["autopsy"]["backend"] == "qemu"
    # Powered off on release: no QEMU of this run is left.
    socket_dir = Path(command.rsplit("target remote ", 1)[1].rstrip("'")).parent
    assert not socket_dir.exists()
    assert not [line for line in command_lines() if str(socket_dir) in line]


def command_lines() -> list[str]:
    """Every process's command line (those that end while being read are skipped)."""
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return lines
