"""Device tree generation: DTS text for a board, compiled with the system ``dtc``.

Compiled trees are kept in ``${XDG_CACHE_HOME:-~/.cache}/hartbeat/dtb/``, each file the DTS
text it came from and the DTB, named by a CRC of the text and of the ``dtc`` binary's size
and modification time; a hit is a file whose text is this text. Running ``dtc`` is 30-50 ms
of every start-up, and a board's text changes only with its harts, RAM, command line and
initrd. (``zlib``, not ``hashlib``: importing hashlib costs PyPy 40 ms, more than ``dtc``.
For the same reason ``subprocess`` is imported only to run ``dtc``, and ``shutil`` not at all:
with the modules they bring (threading, selectors, bz2, lzma...), 13 ms of every start.)
"""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass

from .boards import CLINT_BASE, CLINT_SIZE, PLIC_BASE, PLIC_SIZE, RAM_BASE, TEST_BASE, TIMEBASE_HZ, Board
from .trap import MIP_MEIP

UART_CLOCK_HZ = 3686400


class DtcError(Exception):
    """dtc is missing or rejected the generated source."""


@dataclass(frozen=True)
class DtOptions:
    """Run-time facts that go into the tree."""

    ram_size: int
    bootargs: str | None = None
    initrd: tuple[int, int] | None = None


def _cells(value: int) -> str:
    return f"0x{value >> 32:x} 0x{value & 0xFFFFFFFF:x}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dts(board: Board, smp: int, opts: DtOptions) -> str:
    """Return DTS source describing ``board`` with ``smp`` application harts."""
    harts = board.harts(smp)
    out: list[str] = ["/dts-v1/;", "", "/ {"]
    add = out.append
    add("\t#address-cells = <2>;\n\t#size-cells = <2>;")
    add(f"\tcompatible = {', '.join(_quote(c) for c in board.compatible)};")
    add(f"\tmodel = {_quote(board.model)};")
    uart_node = f"serial@{board.uart_base:x}"
    sifive_uart = board.uart_kind != "ns16550a"
    add("\tchosen {")
    add(f'\t\tstdout-path = "/soc/{uart_node}";')
    if opts.bootargs is not None:
        add(f"\t\tbootargs = {_quote(opts.bootargs)};")
    if opts.initrd is not None:
        add(f"\t\tlinux,initrd-start = <{_cells(opts.initrd[0])}>;")
        add(f"\t\tlinux,initrd-end = <{_cells(opts.initrd[1])}>;")
    add("\t};")
    add("\taliases {\n\t\tserial0 = &uart0;\n\t};")
    # The board's own device tree's order (hifive-unmatched-a00.dtb): chosen and aliases, cpus, soc,
    # then memory and the rest. OpenSBI 1.1 finds each interrupt parent of the CLINT's and PLIC's
    # interrupts-extended by scanning the tree from its start (fdt_node_offset_by_phandle, then
    # fdt_parent_offset): every node before the harts' is scanned twice per entry. Memory, clocks
    # and the syscon nodes first cost the boot hart 2.7 M of its 16.9 M instructions on 5 harts.
    add("\tcpus {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <0>;")
    add(f"\t\ttimebase-frequency = <{TIMEBASE_HZ}>;")
    for i, spec in enumerate(harts):
        add(f"\t\tcpu{i}: cpu@{i} {{")
        add(f'\t\t\tdevice_type = "cpu";\n\t\t\treg = <{i}>;\n\t\t\tcompatible = "riscv";')
        add(f'\t\t\triscv,isa = "{spec.isa}";')
        if spec.has_s:
            add('\t\t\tmmu-type = "riscv,sv39";\n\t\t\tstatus = "okay";')
        else:
            # The S7 monitor core cannot run an OS: OpenSBI and Linux skip disabled harts.
            add('\t\t\tstatus = "disabled";')
        add(f"\t\t\tcpu{i}_intc: interrupt-controller {{")
        add("\t\t\t\t#interrupt-cells = <1>;\n\t\t\t\tinterrupt-controller;")
        add('\t\t\t\tcompatible = "riscv,cpu-intc";\n\t\t\t};\n\t\t};')
    add("\t};")
    add('\tsoc {\n\t\t#address-cells = <2>;\n\t\t#size-cells = <2>;\n\t\tcompatible = "simple-bus";\n\t\tranges;')
    if board.uart_kind == "ns16550a":
        uart_compat, uart_size = '"ns16550a"', 0x100
    else:
        uart_compat, uart_size = '"sifive,fu740-c000-uart", "sifive,uart0"', 0x1000
    add(f"\t\tuart0: {uart_node} {{")
    add(f"\t\t\tcompatible = {uart_compat};\n\t\t\treg = <{_cells(board.uart_base)} {_cells(uart_size)}>;")
    add(f"\t\t\tinterrupt-parent = <&plic>;\n\t\t\tinterrupts = <{board.uart_irq}>;")
    add(f"\t\t\tclock-frequency = <{UART_CLOCK_HZ}>;")
    if sifive_uart:
        add("\t\t\tclocks = <&uartclk>;")
    add("\t\t};")
    add(f"\t\ttest: test@{TEST_BASE:x} {{")
    add('\t\t\tcompatible = "sifive,test1", "sifive,test0", "syscon";')
    add(f"\t\t\treg = <{_cells(TEST_BASE)} {_cells(0x1000)}>;\n\t\t}};")
    clint_irqs = " ".join(f"&cpu{i}_intc 3 &cpu{i}_intc 7" for i in range(len(harts)))
    add(f"\t\tclint@{CLINT_BASE:x} {{")
    add('\t\t\tcompatible = "sifive,clint0", "riscv,clint0";')
    add(f"\t\t\treg = <{_cells(CLINT_BASE)} {_cells(CLINT_SIZE)}>;")
    add(f"\t\t\tinterrupts-extended = <{clint_irqs}>;\n\t\t}};")
    plic_irqs = " ".join(f"&cpu{hart}_intc {11 if bit == MIP_MEIP else 9}" for hart, bit in board.plic_contexts(harts))
    add(f"\t\tplic: interrupt-controller@{PLIC_BASE:x} {{")
    add('\t\t\tcompatible = "sifive,plic-1.0.0", "riscv,plic0";')
    add(f"\t\t\treg = <{_cells(PLIC_BASE)} {_cells(PLIC_SIZE)}>;")
    add("\t\t\t#address-cells = <0>;\n\t\t\t#interrupt-cells = <1>;\n\t\t\tinterrupt-controller;")
    add(f"\t\t\triscv,ndev = <{board.plic_ndev}>;")
    add(f"\t\t\tinterrupts-extended = <{plic_irqs}>;\n\t\t}};")
    add("\t};")
    add('\tpoweroff {\n\t\tcompatible = "syscon-poweroff";\n\t\tregmap = <&test>;')
    add("\t\toffset = <0>;\n\t\tvalue = <0x5555>;\n\t};")
    add('\treboot {\n\t\tcompatible = "syscon-reboot";\n\t\tregmap = <&test>;')
    add("\t\toffset = <0>;\n\t\tvalue = <0x7777>;\n\t};")
    add(f'\tmemory@{RAM_BASE:x} {{\n\t\tdevice_type = "memory";')
    add(f"\t\treg = <{_cells(RAM_BASE)} {_cells(opts.ram_size)}>;\n\t}};")
    if sifive_uart:
        # Linux's sifive serial driver takes its rate from a clock, not clock-frequency (without
        # one: "unable to find controller clock", no console). On the FU740 the PRCI supplies it.
        add('\tuartclk: uart-clock {\n\t\tcompatible = "fixed-clock";\n\t\t#clock-cells = <0>;')
        add(f'\t\tclock-frequency = <{UART_CLOCK_HZ}>;\n\t\tclock-output-names = "uartclk";\n\t}};')
    add("};")
    return "\n".join(out) + "\n"


# The first four bytes of every flattened device tree (big-endian 0xd00dfeed).
FDT_MAGIC = b"\xd0\x0d\xfe\xed"


def dtb_cache() -> str:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/dtb``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "hartbeat", "dtb")


# How dtc is run: part of the cache key, so a tree compiled with other options is never served.
DTC_ARGS = ("-I", "dts", "-O", "dtb", "-p", "4096", "-q", "-")


def compile_dts(source: str) -> bytes:
    """Compile DTS text to a DTB with ``dtc`` (padded so firmware can add nodes in place), or
    take it from the cache (see the module docstring)."""
    dtc = _on_path("dtc")
    if dtc is None:
        raise DtcError("dtc not found (install device-tree-compiler)")
    binary = os.stat(dtc)
    text = source.encode()
    tag = zlib.crc32(f"{binary.st_size} {binary.st_mtime_ns} {' '.join(DTC_ARGS)}".encode(), zlib.crc32(text))
    cached = os.path.join(dtb_cache(), f"{tag:08x}-{len(text)}.dtb")
    # The text, a NUL (which DTS text never holds), the tree.
    try:
        with open(cached, "rb") as f:
            held = f.read()
    except OSError:
        held = b""
    stored, _, dtb = held.partition(b"\0")
    if stored == text and dtb.startswith(FDT_MAGIC):
        return dtb
    dtb = _run_dtc(dtc, text)
    # Published whole (a temporary file renamed into place), so a reader never sees part of
    # one; a cache that cannot be written only costs the next start-up its dtc run.
    partial = f"{cached}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(partial, "wb") as f:
            f.write(text + b"\0" + dtb)
        os.replace(partial, cached)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(partial)
    return dtb


def _on_path(name: str) -> str | None:
    """The first executable ``name`` in a directory of ``$PATH``: ``shutil.which`` for a bare
    name (see the module docstring for why not shutil)."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or os.curdir, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def _run_dtc(dtc: str, text: bytes) -> bytes:
    import subprocess  # only on a cache miss (see the module docstring)

    try:
        proc = subprocess.run(
            [dtc, *DTC_ARGS],
            input=text,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise DtcError("dtc not found (install device-tree-compiler)") from None
    if proc.returncode != 0:
        raise DtcError("dtc failed: " + proc.stderr.decode(errors="replace").strip())
    return proc.stdout
