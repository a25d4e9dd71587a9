"""The GDB remote protocol client against QEMU's real gdbstub, and against stubs that misbehave."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.targets.gdbstub import GdbError, GdbRemote, frame, parse_description, unescape

QEMU = "qemu-system-riscv64"
AUIPC_T0 = bytes.fromhex("97020000")  # QEMU virt's reset vector at 0x1000 starts with auipc t0, 0


def test_frame_escapes_reserved_bytes_and_sums_what_is_sent() -> None:
    assert frame(b"g") == b"$g#67"
    # '}' '#' '$' '*' travel as '}' + byte ^ 0x20; the checksum covers the escaped form.
    sent = frame(b"a#b")
    assert sent.startswith(b"$a}\x03b#")
    assert sent.endswith(b"%02x" % (sum(b"a}\x03b") & 0xFF))


def test_unescape_undoes_escapes_and_run_length_encoding() -> None:
    assert unescape(b"}\x03") == b"#"
    # "0* " is '0' then 3 more (' ' is 32, 32 - 29 = 3).
    assert unescape(b"0* ") == b"0000"
    assert unescape(b"ab") == b"ab"


def test_description_numbers_registers_in_order_across_includes() -> None:
    documents = {
        "target.xml": b'<?xml version="1.0"?><target><xi:include href="cpu.xml"/><xi:include href="csr.xml"/></target>',
        "cpu.xml": b'<feature name="org.gnu.gdb.riscv.cpu"><reg name="zero" bitsize="64"/>'
        b'<reg name="ra" bitsize="64"/><reg name="pc" bitsize="64" regnum="32"/></feature>',
        "csr.xml": b'<feature name="org.gnu.gdb.riscv.csr"><reg name="mstatus" bitsize="64" regnum="833"/>'
        b'<reg name="misa" bitsize="64"/></feature>',
    }
    regs = parse_description(documents)
    assert (regs["ra"].number, regs["pc"].number, regs["mstatus"].number, regs["misa"].number) == (1, 32, 833, 834)
    assert regs["mstatus"].feature == "org.gnu.gdb.riscv.csr"


def test_malformed_description_is_a_gdb_error() -> None:
    with pytest.raises(GdbError, match=r"malformed target description target\.xml"):
        parse_description({"target.xml": b"<target><reg name="})


def test_no_socket_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(GdbError, match="did not answer"):
        GdbRemote(tmp_path / "absent.sock", timeout=0.2).connect(wait=0.2)


def test_a_stub_that_accepts_and_never_answers_times_out(tmp_path: Path) -> None:
    path = tmp_path / "hung.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(GdbError, match=r"no answer within 0\.3 s"):
        GdbRemote(path, timeout=0.3).connect()
    assert time.monotonic() - started < 2.0
    server.close()


@pytest.fixture(scope="module")
def qemu_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """QEMU virt with two harts running Debian's OpenSBI, its gdbstub on a UNIX socket."""
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} not installed (make deps)")
    path = tmp_path_factory.mktemp("gdbstub") / "gdb.sock"
    proc = subprocess.Popen(
        [
            QEMU,
            "-machine",
            "virt",
            "-smp",
            "2",
            "-display",
            "none",
            "-serial",
            "null",
            "-monitor",
            "none",
            "-gdb",
            f"unix:{path},server=on,wait=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield path
    finally:
        proc.kill()
        proc.wait()


def test_qemu_stub_describes_every_register_the_autopsy_reads(qemu_stub: Path) -> None:
    stub = GdbRemote(qemu_stub)
    stub.connect(wait=10)
    try:
        for name in ("pc", "ra", "sp", "priv", "mstatus", "mip", "mie", "mcause", "mepc", "mtval"):
            assert name in stub.registers, name
        for name in ("scause", "sepc", "stval", "satp", "mhartid"):
            assert name in stub.registers, name
        threads = stub.threads()
        assert len(threads) == 2
        for hart, thread in enumerate(threads):
            stub.select(thread)
            assert stub.read_register("mhartid") == hart
            assert stub.read_register("priv") == 3  # firmware: M-mode
        assert stub.read_registers(["pc", "no-such-register"])["no-such-register"] is None
    finally:
        stub.close()


def test_qemu_stub_runs_stops_and_reads_memory_and_the_monitor(qemu_stub: Path) -> None:
    stub = GdbRemote(qemu_stub)
    stub.connect(wait=10)
    try:
        first = stub.threads()[0]
        stub.select(first)
        assert stub.read_memory(0x1000, 4) == AUIPC_T0
        before = stub.read_register("mcycle")
        stub.resume()
        time.sleep(0.05)
        assert stub.interrupt().startswith(b"T")
        stub.select(first)
        assert stub.read_register("mcycle") > before
        assert "mhartid" in stub.monitor("info registers")
        with pytest.raises(GdbError, match="refused"):
            stub.read_memory(0xFFFF_FFFF_FFFF_0000, 8)
    finally:
        stub.close()
