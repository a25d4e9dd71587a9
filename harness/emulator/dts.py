"""Device tree generation: DTS text for a board, compiled with the system ``dtc``."""

from __future__ import annotations

import subprocess
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
    add("\t};\n};")
    return "\n".join(out) + "\n"


def compile_dts(source: str) -> bytes:
    """Compile DTS text to a DTB with ``dtc`` (padded so firmware can add nodes in place)."""
    try:
        proc = subprocess.run(
            ["dtc", "-I", "dts", "-O", "dtb", "-p", "4096", "-q", "-"],
            input=source.encode(),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise DtcError("dtc not found (install device-tree-compiler)") from None
    if proc.returncode != 0:
        raise DtcError("dtc failed: " + proc.stderr.decode(errors="replace").strip())
    return proc.stdout
