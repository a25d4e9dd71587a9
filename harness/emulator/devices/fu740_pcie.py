"""The FU740's PCIe x8 block, present with no link: the SiFive management registers (PHY
control-register handshake, device type) and the DesignWare DBI as plain registers whose
PHY debug status never shows the link up, so the drivers report no link and carry on, as a
board with nothing trained on its lanes would. Config space reads as all ones (no device)."""

from __future__ import annotations

from .inert import InertRegisters

PHY_CR_PARA = ((0x870, 0x890, 0x898), (0x8B0, 0x8D0, 0x8D8))  # (rd_en, wr_en, ack) per PHY


class PcieManagement(InertRegisters):
    """Management registers; a PHY's ``cr_para_ack`` follows its read or write enable."""

    def read(self, offset: int, size: int) -> int:
        """Read a register; an ack register is 1 while a PHY access is enabled."""
        for rd_en, wr_en, ack in PHY_CR_PARA:
            if offset == ack:
                return 1 if self.regs.get(rd_en, 0) & 1 or self.regs.get(wr_en, 0) & 1 else 0
        return super().read(offset, size)


class AllOnes:
    """A bus region where nothing answers a configuration read (all ones), writes ignored."""

    def read(self, offset: int, size: int) -> int:
        """All ones."""
        return (1 << (8 * size)) - 1

    def write(self, offset: int, size: int, value: int) -> None:
        """Ignored."""
