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

from harness.records.results import RunResult
from harness.run.hold import gdb_command

PROJECT = Path(__file__).resolve().parents[2]
QSOE = PROJECT / "images" / "qsoe-sim"
GDB = "gdb-multiarch"
HARTBEAT = (sys.executable, "-m", "harness.cli")


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
    assert (
        shlex.split(gdb_command(("127.0.0.1", 3333), [], extended=True))[-1] == "target extended-remote 127.0.0.1:3333"
    )


def test_a_target_without_a_gdbstub_is_not_held(
    scripted_board: Callable[[str], Path], plan_file: Callable[[str], Path], run_plan: Callable[..., RunResult]
) -> None:
    plan = plan_file('name = "p"\nsilence = "0.3s"\n[[milestone]]\nname = "login"\nexpect = "login:"\n')
    started = time.monotonic()
    result = run_plan(plan, scripted_board("say booting\nhang\n"), hold=True)
    assert result.verdict.kind.value == "wedge"
    assert time.monotonic() - started < 15


def _build_wedge(out: Path) -> Path:
    """qsoe-sim built with FAULT=wedge (its two harts deadlock) into ``out``."""
    for tool in ("riscv64-unknown-elf-gcc", "make", GDB):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (make deps)")
    proc = subprocess.run(
        ["make", "-s", "-C", str(QSOE), f"BUILD_DIR={out}", f"OBJ_DIR={out / 'obj'}", "FAULT=wedge"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "qsoe.elf"


@pytest.fixture(scope="module")
def qsoe_wedge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wedge(tmp_path_factory.mktemp("qsoe-wedge"))


def _held_run(board: str, elf: Path, out: Path, timeout: float) -> tuple[subprocess.Popen[str], str]:
    """``hartbeat run qsoe-boot --hold`` on ``board``, read up to the gdb command it prints."""
    proc = subprocess.Popen(
        [*HARTBEAT, "run", "qsoe-boot", "--board", board, "--image", f"kernel={elf}", "--hold", "--out", str(out)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.strip().startswith(GDB):
            return proc, line.strip()
    proc.kill()
    proc.wait()
    raise AssertionError("no gdb command:\n" + "".join(seen))


def _release(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C the held run; what it printed after the gdb command."""
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    return rest


def test_hold_keeps_qemu_stopped_for_gdb_multiarch_until_ctrl_c(qsoe_wedge: Path, tmp_path: Path) -> None:
    if shutil.which("qemu-system-riscv64") is None:
        pytest.skip("qemu-system-riscv64 not installed (make deps)")
    out = tmp_path / "run"
    proc, command = _held_run("qemu-qsoe", qsoe_wedge, out, 60)
    try:
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
        rest = _release(proc)
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


def test_hold_keeps_the_emulator_halted_under_openocd_for_gdb_multiarch(qsoe_wedge: Path, tmp_path: Path) -> None:
    """The emulator, started with its JTAG port because of --hold, held under OpenOCD: gdb
    attaches through it and finds each hart where the autopsy (the control socket) put it."""
    if shutil.which("openocd") is None:
        pytest.skip("openocd not installed (make deps)")
    out = tmp_path / "run"
    started = time.monotonic()
    proc, command = _held_run("emulator-qsoe", qsoe_wedge, out, 180)
    try:
        print(f"held after {time.monotonic() - started:.1f} s")
        assert "qsoe.elf" in command and "-ex 'target extended-remote 127.0.0.1:" in command
        report = json.loads((out / "report.json").read_text())
        assert report["verdict"]["kind"] == "wedge"
        assert report["autopsy"]["backend"] == "emulator"
        functions = [hart["where"]["function"] for hart in report["autopsy"]["harts"]]
        assert len(functions) == 2 and all(f and f.startswith("spin_lock") for f in functions), functions
        # The emulator runs with its JTAG port and OpenOCD serves it (both ended on release below).
        jtag = next(line for line in command_lines() if "-jtag\0unix:" in line and str(qsoe_wedge) in line)
        socket = Path(jtag.split("-jtag\0unix:", 1)[1].split("\0", 1)[0])
        assert socket.exists()
        attached = time.monotonic()
        gdb = subprocess.run(
            [*shlex.split(command), "-batch", "-ex", "info registers pc", "-ex", "info threads"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        print(f"gdb attached, read pc and both threads in {time.monotonic() - attached:.1f} s")
        assert gdb.returncode == 0, gdb.stdout + gdb.stderr
        pc_line = next(line for line in gdb.stdout.splitlines() if line.startswith("pc"))
        # Hart 0 is halted in the function the autopsy named for it; each hart is a gdb thread.
        assert f"<{functions[0]}" in pc_line, gdb.stdout
        threads = [line for line in gdb.stdout.splitlines() if '"riscv.cpu' in line]
        assert len(threads) == 2, gdb.stdout
        for hart, function in enumerate(functions):
            line = next(line for line in threads if f'"riscv.cpu{hart}"' in line)
            assert f" {function} (" in line, gdb.stdout
        rest = _release(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, rest
    assert "qsoe-boot on emulator-qsoe: WEDGE" in rest
    # Released: the emulator and OpenOCD are gone, and the socket's folder with them.
    assert not socket.parent.exists()
    assert not [line for line in command_lines() if str(socket) in line]


def command_lines() -> list[str]:
    """Every process's command line (those that end while being read are skipped)."""
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return lines
