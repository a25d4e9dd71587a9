"""The machine timer (mtime): guest time derived from executed instructions, not the host clock.

Like QEMU's ``-icount``, time advances by a fixed number of ticks per instruction, so the
same image boots the same way however loaded the host is: a slow host no longer sees more
timer ticks per boot, and two runs of the same image print the same text. The machine
advances the clock after each scheduling round by the instructions of its busiest hart (the
harts run side by side, as on real hardware) and, when every hart waits in ``wfi``, jumps
straight to the next timer deadline instead of sleeping on the host.
"""

from __future__ import annotations

M64 = (1 << 64) - 1
# A nominal 100 MIPS guest: one 10 MHz mtime tick per 10 instructions. Guest delays (a 2 s
# sleep) cost nothing when the guest waits in wfi; busy-waits cost their instructions.
INSTRUCTIONS_PER_TICK = 10


class Clock:
    """mtime at ``frequency`` Hz, advanced by :meth:`advance` and :meth:`skip_to`."""

    def __init__(self, frequency: int, instructions_per_tick: int = INSTRUCTIONS_PER_TICK) -> None:
        self.frequency = frequency
        self.instructions_per_tick = instructions_per_tick
        self._ticks = 0
        # Instructions executed since the last whole tick.
        self._spare = 0
        # Ticks that passed since power-on, whatever the guest writes to mtime: the guest time
        # the harness judges by (``-guest-clock``). A reset keeps it (see Machine.reset).
        self.elapsed = 0

    def mtime(self) -> int:
        """Current mtime value."""
        return self._ticks & M64

    def set_mtime(self, value: int) -> None:
        """Make mtime read ``value`` now (a guest write to the mtime register)."""
        self._ticks = value & M64

    def advance(self, instructions: int) -> None:
        """Account for ``instructions`` executed (on the busiest hart) since the last call."""
        whole, self._spare = divmod(self._spare + instructions, self.instructions_per_tick)
        self._ticks = (self._ticks + whole) & M64
        self.elapsed += whole

    def skip_to(self, deadline: int) -> None:
        """Jump to ``deadline`` (every hart is idle until then); never backwards."""
        if deadline > self._ticks:
            self.elapsed += deadline - self._ticks
            self._ticks = deadline & M64
            self._spare = 0

    def idle(self, ticks: int) -> None:
        """Let ``ticks`` pass with every hart idle and no timer armed."""
        self._ticks = (self._ticks + ticks) & M64
        self.elapsed += ticks
        self._spare = 0

    def elapsed_ns(self) -> int:
        """Guest nanoseconds since power-on."""
        return self.elapsed * 1_000_000_000 // self.frequency
