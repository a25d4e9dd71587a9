"""The FU740 SoC around the harts, for booting the board's own firmware from an SD card.

``Fu740Soc`` maps what the SPL, U-Boot and Linux drivers touch beyond the CLINT, PLIC and
UART0 the machine always has (and the L2 LIM at 0x08000000, which the bus holds as memory in
front of DRAM, see ``Bus(sram=...)``): the mode-select pins (MSEL) at 0x1000, the L2 cache
controller, PRCI, UART1, PWM, I2C, the SPI controllers (SPI2 carries the SD card),
GPIO, the GEM Ethernet and PCIe blocks (present and inert) and the DDR controller, PHY and
physical filter, which bring DRAM online. At power-on, the mask ROM's behaviour (``zsbl``)
loads the SPL from the card into the LIM; every hart then starts at the LIM's base.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable

from .bus import Bus
from .devices.at24 import ADDRESS as EEPROM_ADDRESS
from .devices.at24 import At24Eeprom, sifive_record
from .devices.ccache import CacheController
from .devices.da9063 import ADDRESS as PMIC_ADDRESS
from .devices.da9063 import Da9063
from .devices.ddr import DdrController, DdrPhy, PhysicalFilter
from .devices.fu740_pcie import AllOnes, PcieManagement
from .devices.inert import InertRegisters
from .devices.ocores_i2c import OcoresI2c
from .devices.prci import Prci
from .devices.rom import Rom
from .devices.sdcard import SdImage, SpiSdCard
from .devices.sifive_gpio import SifiveGpio
from .devices.sifive_spi import SifiveSpi
from .devices.sifive_uart import SifiveUart
from .devices.test import MachineExit
from .zsbl import ZsblError, load_spl

MSEL_BASE = 0x1000
MSEL_SD = 0b1011
LIM_BASE = 0x08000000
LIM_SIZE = 0x200000
CCACHE_BASE = 0x02010000
PRCI_BASE = 0x10000000
UART1_BASE = 0x10011000
PWM0_BASE = 0x10020000
PWM1_BASE = 0x10021000
# I2C0 carries the DA9063 PMIC (0x58) and the board EEPROM (0x54, SiFive platform record); the
# temperature sensor (0x4c) is not modelled and does not acknowledge.
I2C0_BASE = 0x10030000
I2C1_BASE = 0x10031000
QSPI0_BASE = 0x10040000
QSPI1_BASE = 0x10041000
SPI2_BASE = 0x10050000
GPIO_BASE = 0x10060000
GEM_BASE = 0x10090000
GEM_MGMT_BASE = 0x100A0000
DDR_CTL_BASE = 0x100B0000
DDR_PHY_BASE = 0x100B2000
DDR_FILTER_BASE = 0x100B8000
PCIE_MGMT_BASE = 0x100D0000
PCIE_DBI_BASE = 0xE00000000
PCIE_DBI_SIZE = 0x80000000
PCIE_CONFIG_BASE = 0xDF0000000
PCIE_CONFIG_SIZE = 0x10000000
# GPIO pins: 2 drives the PMIC's shutdown input (active low: the board's gpio-poweroff), 15 is
# the SD card-detect switch (low with a card in).
GPIO_PMIC_SHUTDOWN = 2
GPIO_SD_DETECT = 15
# The GEM's module ID register (gem revision) so its driver recognises the MAC.
GEM_MID = 0xFC
GEM_MID_VALUE = 0x00070109
UART1_IRQ = 40


class Fu740Soc:
    """The FU740's on-chip devices, mapped on ``bus``; ``sdcard`` is the card image's path."""

    def __init__(self, bus: Bus, sdcard: str | None, msel: int, set_uart1_irq: Callable[[bool], None]) -> None:
        self.bus = bus
        self.msel = msel
        self.card = SpiSdCard(SdImage(sdcard)) if sdcard else None
        self.prci = Prci()
        self.ddr = DdrController(self.prci)
        self.dram_online = False
        inputs = 0xFFFF & ~(1 << GPIO_SD_DETECT if self.card else 0)
        self.gpio = SifiveGpio(16, inputs, self._gpio_changed)
        devices: list[tuple[int, int, object]] = [
            (MSEL_BASE, 0x1000, Rom(struct.pack("<I", msel), 0x1000)),
            (CCACHE_BASE, 0x1000, CacheController()),
            (PRCI_BASE, 0x1000, self.prci),
            (UART1_BASE, 0x1000, SifiveUart(lambda data: None, set_uart1_irq)),
            (PWM0_BASE, 0x1000, InertRegisters()),
            (PWM1_BASE, 0x1000, InertRegisters()),
            (I2C0_BASE, 0x1000, OcoresI2c({PMIC_ADDRESS: Da9063(), EEPROM_ADDRESS: At24Eeprom(sifive_record())})),
            (I2C1_BASE, 0x1000, OcoresI2c()),
            (QSPI0_BASE, 0x1000, SifiveSpi(1)),
            (QSPI1_BASE, 0x1000, SifiveSpi(4)),
            (SPI2_BASE, 0x1000, SifiveSpi(1, {0: self.card} if self.card else None)),
            (GPIO_BASE, 0x1000, self.gpio),
            (GEM_BASE, 0x2000, InertRegisters({GEM_MID: GEM_MID_VALUE})),
            (GEM_MGMT_BASE, 0x1000, InertRegisters()),
            (DDR_CTL_BASE, 0x800, self.ddr),
            (DDR_PHY_BASE, 0x2000, DdrPhy()),
            (DDR_FILTER_BASE, 0x1000, PhysicalFilter(self.ddr, self._dram_online)),
            (PCIE_MGMT_BASE, 0x1000, PcieManagement()),
            (PCIE_DBI_BASE, PCIE_DBI_SIZE, InertRegisters()),
            (PCIE_CONFIG_BASE, PCIE_CONFIG_SIZE, AllOnes()),
        ]
        for base, size, device in devices:
            bus.map(base, size, device)  # type: ignore[arg-type]

    def _gpio_changed(self, levels: int, output_enable: int) -> None:
        """Pin 2 driven low asserts the PMIC's shutdown: the board powers off."""
        pin = 1 << GPIO_PMIC_SHUTDOWN
        if output_enable & pin and not levels & pin:
            raise MachineExit(0)

    def _dram_online(self, end: int) -> None:
        if not self.dram_online:
            self.dram_online = True
            self.bus.bring_online()

    def power_on(self) -> int:
        """Run the mask ROM's SD boot: load the SPL into the LIM; return the harts' start address.

        A card the ROM cannot boot from is reported on stderr; the harts then wait forever, as
        the board sits silent.
        """
        if self.msel != MSEL_SD:
            raise ZsblError(f"MSEL {self.msel:#06b} is not modelled (only 1011, SD card)")
        if self.card is None:
            raise ZsblError("MSEL 1011 boots from the SD card, but no card is inserted (-drive ...,if=sd)")
        spl = load_spl(self.card, LIM_SIZE)
        self.bus.load(LIM_BASE, spl)
        return LIM_BASE


def report(message: str) -> None:
    """One line on stderr, prefixed like the emulator's other reports."""
    sys.stderr.write(f"hartbeat-emu: {message}\n")
    sys.stderr.flush()
