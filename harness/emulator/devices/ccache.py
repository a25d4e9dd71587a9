"""The FU740's L2 cache controller (``sifive,fu740-c000-ccache``): the configuration and
way-enable registers U-Boot's and Linux's drivers read and write, and the ECC counters (zero:
the model never sees a cache error). Caching itself is not modelled."""

from __future__ import annotations

CONFIG = 0x000
WAY_ENABLE = 0x008
BANKS = 4
WAYS = 16
LG_SETS = 11
LG_BLOCK = 6
CONFIG_VALUE = BANKS | WAYS << 8 | LG_SETS << 16 | LG_BLOCK << 24


class CacheController:
    """Config (read-only), WayEnable (only grows, up to ways - 1), everything else reads 0."""

    def __init__(self) -> None:
        self.way_enable = 0

    def read(self, offset: int, size: int) -> int:
        """Read config or WayEnable; other registers (ECC status, counters) read 0."""
        if offset == CONFIG:
            return CONFIG_VALUE
        if offset == WAY_ENABLE:
            return self.way_enable
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """WayEnable can only be raised (the hardware never disables a way again)."""
        if offset == WAY_ENABLE:
            self.way_enable = max(self.way_enable, min(value & 0xFF, WAYS - 1))
