"""A whole machine: RAM, devices, harts, boot images, and the round-robin scheduler."""

from __future__ import annotations

import contextlib
import struct
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import boards, interp, loops
from .boards import Board
from .bus import Bus
from .clock import Clock
from .codecache import CodeCache
from .console import Console
from .cpu import Hart
from .csr import ENVCFG_STCE, sstc_update
from .devices.clint import NEVER, Clint
from .devices.plic import Plic, PlicContext
from .devices.rom import Rom
from .devices.sifive_uart import SifiveUart
from .devices.test import MachineExit, MachineReset, TestDevice
from .devices.uart16550 import Uart16550
from .dts import DtOptions, compile_dts, render_dts
from .loader import LoadedImage, LoadError, load_image, read_file

if TYPE_CHECKING:
    # Imported where used: the -control socket, the -jtag port and the FU740's own boot path
    # (its devices, mask ROM and SD card) are options most runs leave off, and importing them
    # (socket, threading, json...) was a tenth of every start-up on PyPy.
    from .control import ControlServer
    from .debug.port import JtagPort
    from .fu740 import Fu740Soc

MIB = 1 << 20
# Instructions a hart runs before the scheduler moves on, polls the console and updates
# timers (a few ms). Exact on both engines: the harts' interleaving, and so the guest, is
# the same whichever engine runs them.
QUANTUM = 8000
# A hart polling the time CSR yields its quantum at once; guest time still passes as if it
# had spun on for the whole quantum, or a loop waiting for mtime to move would take many
# rounds per tick.
SPIN_CREDIT = QUANTUM
# How long it waits for input before an idle skip: an idle guest at a prompt would otherwise
# race through its timers at full host speed. Only the pacing depends on the host, not what
# the guest computes.
IDLE_SKIP_WAIT_S = 0.001
# Guest time that passes per such wait when every hart idles with no timer armed (a deadlock,
# or a bare-metal program waiting for input): 100 guest seconds per host second, so a silence
# limit of 20 guest seconds is over in a fifth of a host second. Input ends it as on a board.
IDLE_NOTHING_ARMED_TICKS = boards.TIMEBASE_HZ // 10
# How long the host waits for the debugger at a time while it holds every hart halted.
DEBUG_WAIT_S = 0.05
FW_DYNAMIC_MAGIC = 0x4942534F
FW_DYNAMIC_VERSION = 2
NEXT_MODE_S = 1
RESET_STATUS = 3

# QEMU's reset vector: a0 = mhartid, a1 = DTB, a2 = fw_dynamic info, jump to the start address.
RESET_STUB = (
    0x00000297,  # auipc t0, 0
    0x02828613,  # addi  a2, t0, 40
    0xF1402573,  # csrr  a0, mhartid
    0x0202B583,  # ld    a1, 32(t0)
    0x0182B283,  # ld    t0, 24(t0)
    0x00028067,  # jr    t0
)


@dataclass(frozen=True)
class MachineConfig:
    """What ``python -m harness.emulator`` was asked to build."""

    board: str = "virt"
    smp: int | None = None
    ram_size: int = 128 * MIB
    bios: str | None = None  # a path, "none", or None for the default firmware
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None
    dtb: str | None = None
    no_reboot: bool = False
    report_stale_fetch: bool = False
    # The FU740's mode-select pins (``-M unmatched,msel=11``): the board boots its own firmware
    # from ``sdcard`` through the mask ROM instead of images loaded into RAM.
    msel: int | None = None
    sdcard: str | None = None


DEFAULT_BIOS = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
# The most DRAM a board takes (the FU740's 16 GiB); RAM is mapped lazily, so it costs what the
# guest touches.
MAX_RAM = 16 << 30
# The FU740's real-time clock (mtime) runs at 1 MHz; one tick per 100 instructions keeps the
# nominal 100 MIPS guest of clock.py.
FU740_RTC_HZ = 1_000_000
FU740_INSTRUCTIONS_PER_TICK = 100
# Distinct bus errors reported per run (a guest looping over a missing device says so once).
MAX_FAULT_REPORTS = 50


class Machine:
    """An emulated board. ``run()`` executes until power-off and returns the exit status."""

    def __init__(self, config: MachineConfig, console: Console) -> None:
        if config.board not in boards.BOARDS:
            raise LoadError(f"unknown machine '{config.board}' (choose from {', '.join(boards.BOARDS)})")
        self.config = config
        self.board: Board = boards.BOARDS[config.board]
        smp = config.smp if config.smp is not None else self.board.default_smp
        if smp < self.board.min_smp:
            raise LoadError(f"machine '{self.board.name}' needs at least {self.board.min_smp} harts")
        self.smp = smp
        self.console = console
        interp.set_compiled_loops(loops.wanted(config.ram_size))
        rom_boot = config.msel is not None
        if rom_boot and self.board.name != boards.UNMATCHED.name:
            raise LoadError(f"machine '{self.board.name}' has no mode-select pins (msel is for unmatched)")
        if config.ram_size > MAX_RAM:
            raise LoadError(f"-m {config.ram_size >> 20}M: at most {MAX_RAM >> 20}M")
        self.clock = Clock(FU740_RTC_HZ, FU740_INSTRUCTIONS_PER_TICK) if rom_boot else Clock(boards.TIMEBASE_HZ)
        if rom_boot:
            from .fu740 import LIM_BASE, LIM_SIZE

            self.bus = Bus(boards.RAM_BASE, config.ram_size, online=False, sram=(LIM_BASE, LIM_SIZE))
        else:
            self.bus = Bus(boards.RAM_BASE, config.ram_size)
        self.faults: list[str] = []
        self.bus.on_fault = self._report_fault
        self.stale_fetches: list[str] = []
        self.code = CodeCache(self._report_stale if config.report_stale_fetch else None)
        specs = self.board.harts(smp)
        self.harts = [
            Hart(i, self.bus, self.clock, self.code, s.has_s, s.has_fd, s.has_sstc) for i, s in enumerate(specs)
        ]
        self.sstc_harts = [h for h in self.harts if h.has_sstc]
        for h in self.harts:
            self.code.add_hart(h)
            h.on_trap_loop = self._report_trap_loop
            # The FU740's own firmware runs faster on PyPy without it (Interpreter.reset_kind).
            h.interp.reset_kind = not rom_boot
        self.clint = Clint(len(self.harts), self.clock, self._set_irq)
        contexts = [PlicContext(h, bit) for h, bit in self.board.plic_contexts(specs)]
        self.plic = Plic(self.board.plic_ndev, contexts, self._set_irq)
        uart_irq = self.board.uart_irq
        uart_cls = Uart16550 if self.board.uart_kind == "ns16550a" else SifiveUart
        self.uart = uart_cls(console.write, lambda level: self.plic.set_level(uart_irq, level))
        if not rom_boot:
            self.bus.map(boards.TEST_BASE, 0x1000, TestDevice())
        self.bus.map(boards.CLINT_BASE, boards.CLINT_SIZE, self.clint)
        self.bus.map(boards.PLIC_BASE, boards.PLIC_SIZE, self.plic)
        self.bus.map(self.board.uart_base, 0x1000, self.uart)
        self.dtb_source: str | None = None
        self.dtb = b""
        self._dtb_override = read_file(config.dtb) if config.dtb else None
        self.instructions = 0
        # The JTAG port (-jtag), served before each hart's quantum when attached; None costs nothing.
        self.debug: JtagPort | None = None
        self.soc: Fu740Soc | None = None
        if config.msel is not None:
            from .fu740 import Fu740Soc

            self.soc = Fu740Soc(
                self.bus, config.sdcard, config.msel, lambda level: self.plic.set_level(boards.UART1_IRQ, level)
            )
            self._power_on_rom()
        else:
            self._load()

    def _report_fault(self, paddr: int, size: int, access: str, hart: int, pc: int) -> None:
        """A guest access that hit no RAM and no device: on stderr (the run's console) and in
        ``faults``, once per address and access, as the hart takes its access fault."""
        self._report(
            f"hartbeat-emu: bus error: {access} of {size} bytes at {paddr:#x} (nothing there) "
            f"by hart {hart} at pc={pc:#x}"
        )

    def _report_trap_loop(self, hart: Hart, cause: int, vector: int) -> None:
        """A hart whose trap vector cannot be fetched: it loops taking that fault (once)."""
        self._report(
            f"hartbeat-emu: hart {hart.hartid} loops on its trap vector: fetching {vector:#x} "
            f"faults (cause {cause}) and the fault's handler is that address"
        )

    def _report(self, message: str) -> None:
        """One line on stderr (the run's console) and in ``faults``, once per message."""
        if message in self.faults or len(self.faults) >= MAX_FAULT_REPORTS:
            return
        self.faults.append(message)
        self.console.flush()
        sys.stderr.write("\r\n" + message + "\r\n")
        sys.stderr.flush()

    def _power_on_rom(self) -> None:
        """The FU740 mask ROM's SD boot: every hart starts in the LIM with a0 = its hart id; a
        card the ROM cannot boot leaves every hart waiting (reported on stderr)."""
        from .zsbl import ZsblError

        assert self.soc is not None
        try:
            start = self.soc.power_on()
        except ZsblError as exc:
            sys.stderr.write(f"hartbeat-emu: mask ROM: {exc}\n")
            sys.stderr.flush()
            for h in self.harts:
                h.reset(0)
                h.wfi = True
            return
        for h in self.harts:
            h.reset(start)
            h.x[10] = h.hartid

    def _report_stale(self, message: str) -> None:
        self.stale_fetches.append(message)
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def _set_irq(self, hart: int, bit: int, level: bool) -> None:
        h = self.harts[hart]
        if level:
            h.mip |= bit
        else:
            h.mip &= ~bit

    # --- boot images -----------------------------------------------------------------------

    def _load(self) -> None:
        cfg = self.config
        ram_end = boards.RAM_BASE + cfg.ram_size
        bios = DEFAULT_BIOS if cfg.bios is None else cfg.bios
        firmware_end = boards.RAM_BASE
        if bios != "none":
            firmware_end = load_image(self.bus, bios, boards.RAM_BASE).end
        kernel: LoadedImage | None = None
        if cfg.kernel:
            # fw_jump expects the next stage at the first 2 MiB boundary after the firmware.
            kernel_at = (firmware_end + 2 * MIB - 1) & ~(2 * MIB - 1)
            kernel = load_image(self.bus, cfg.kernel, kernel_at)
        initrd_span = None
        if cfg.initrd:
            base = kernel.entry if kernel else boards.RAM_BASE
            start = (base + min(cfg.ram_size // 2, 128 * MIB)) & ~0xFFF
            data = read_file(cfg.initrd)
            if start + len(data) > ram_end:
                raise LoadError(f"initrd '{cfg.initrd}' does not fit in RAM")
            self.bus.load(start, data)
            initrd_span = (start, start + len(data))
        if self._dtb_override is not None:
            dtb = self._dtb_override
        else:
            self.dtb_source = render_dts(self.board, self.smp, DtOptions(cfg.ram_size, cfg.append, initrd_span))
            dtb = compile_dts(self.dtb_source)
        self.dtb = dtb
        dtb_addr = (min(ram_end, 0xC0000000) - len(dtb)) & ~(2 * MIB - 1)
        self.bus.load(dtb_addr, dtb)
        if bios == "none":
            if kernel is None:
                raise LoadError("-bios none needs -kernel")
            start_addr = kernel.entry
        else:
            start_addr = boards.RAM_BASE
        next_addr = kernel.entry if kernel else (firmware_end + 2 * MIB - 1) & ~(2 * MIB - 1)
        rom = struct.pack("<6I", *RESET_STUB) + struct.pack("<QQ", start_addr, dtb_addr)
        rom += struct.pack("<6Q", FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next_addr, NEXT_MODE_S, 0, (1 << 64) - 1)
        self.bus.map(boards.ROM_BASE, boards.ROM_SIZE, Rom(rom, boards.ROM_SIZE))
        for h in self.harts:
            h.reset(boards.ROM_BASE)

    def reset(self) -> None:
        """Reset the whole machine like a power cycle: fresh RAM, devices and harts, images
        reloaded (RAM contents do not survive, unlike on some real boards). An attached
        JTAG port stays, its debugger told that every hart was reset."""
        elapsed = self.clock.elapsed
        debug = self.debug
        ram = self.bus.ram
        self.__init__(self.config, self.console)  # type: ignore[misc]
        # The old RAM goes now: the GC does not see an mmap's size, and a rebooted Linux leaves
        # hundreds of MiB touched (a view of it still held elsewhere keeps it mapped instead).
        with contextlib.suppress(BufferError):
            ram.close()
        # Guest time since power-on runs on through a reset, as wall time does on a board.
        self.clock.elapsed = elapsed
        if debug is not None:
            self.debug = debug
            debug.on_machine_reset()

    def guest_ns(self) -> int:
        """Guest nanoseconds since power-on (the ``-guest-clock`` side channel reports it)."""
        return self.clock.elapsed_ns()

    def attach_jtag(self, spec: str) -> JtagPort:
        """Open the JTAG port (remote_bitbang on ``tcp:PORT`` or ``unix:PATH``) for this machine."""
        from .debug.port import JtagPort

        self.debug = JtagPort(self, spec, self.board.jtag_idcode)
        return self.debug

    # --- scheduling ------------------------------------------------------------------------

    def _update_timers(self) -> None:
        now = self.clock.mtime()
        self.clint.update_timers(now)
        for h in self.sstc_harts:
            sstc_update(h, now)

    def step_round(self) -> bool:
        """Give every runnable hart one quantum; return False if all harts are waiting.

        Guest time then advances by the busiest hart's instructions: the harts run side by side.
        """
        self._update_timers()
        if self.uart.wants_input():
            data = self.console.poll()
            if data:
                self.uart.receive(data)
        ran = False
        busiest = 0
        multi = len(self.harts) > 1
        for h in self.harts:
            if self.debug is not None:
                # Before each hart, not once a round: a debugger's every JTAG scan is a round
                # trip, and five harts' quanta between two of them made OpenOCD crawl.
                self.debug.poll()
            if h.halted:
                continue
            if h.wfi:
                if not h.mip & h.mie:
                    continue
                h.wfi = False
            before = h.icount
            h.run(QUANTUM)
            executed = h.icount - before
            busiest = max(busiest, SPIN_CREDIT if h.yielding and executed < SPIN_CREDIT else executed)
            if multi:
                # Another hart runs next: its stores may hit the reserved address, so LR/SC
                # reservations do not survive a switch (SC then fails and software retries).
                h.reservation = None
            ran = True
        self.clock.advance(busiest)
        self.console.flush()
        return ran

    def next_deadline(self) -> int:
        """The earliest timer compare value still ahead of mtime (mtimecmp, or stimecmp where
        Sstc is on); NEVER if none. One already passed woke nobody (its interrupt is masked)."""
        now = self.clock.mtime()
        compares = list(self.clint.mtimecmp)
        compares += [h.stimecmp for h in self.sstc_harts if h.menvcfg & ENVCFG_STCE]
        return min((c for c in compares if c > now), default=NEVER)

    def idle(self) -> None:
        """Every hart waits in WFI: take console input, else skip guest time to the next timer.

        Skipping (rather than sleeping on the host) is what keeps guest time independent of
        the host: a guest sleep of 2 s costs no host time at all. With no timer armed, only
        input can wake the machine; guest time passes meanwhile at IDLE_NOTHING_ARMED_TICKS
        per millisecond of waiting for it, so a deadlock reaches a silence limit quickly. With
        every hart halted by a debugger, time stands still and the host waits for the debugger.
        """
        if self.debug is not None and self.debug.all_halted():
            self.debug.wait(DEBUG_WAIT_S)
            return
        wants_input = self.uart.wants_input()
        if wants_input:
            data = self.console.poll(IDLE_SKIP_WAIT_S)
            if data:
                self.uart.receive(data)
                return
        deadline = self.next_deadline()
        if deadline != NEVER:
            self.clock.skip_to(deadline)
            return
        # Nothing armed: time still passes, as on a board, at a bounded pace.
        if not wants_input:
            time.sleep(IDLE_SKIP_WAIT_S)
        self.clock.idle(IDLE_NOTHING_ARMED_TICKS)

    def run(self, max_seconds: float | None = None, control: ControlServer | None = None) -> int:
        """Run until the guest powers off (returning the exit status) or ``max_seconds`` pass.

        A guest reset restarts the machine, or with ``no_reboot`` returns RESET_STATUS (3).
        ``control`` (the ``-control`` socket) is answered between rounds, where every hart's
        registers are consistent.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                self.console.tick()
                if control is not None and control.pending:
                    control.serve(self)
                    if control.off:
                        raise MachineExit(0)
                try:
                    if not self.step_round():
                        self.idle()
                except MachineReset:
                    self.console.flush()
                    if self.config.no_reboot:
                        return RESET_STATUS
                    self.reset()
            return -1
        except MachineExit as exc:
            return exc.status
        finally:
            self.console.flush()
            self.instructions = sum(h.icount for h in self.harts)
