"""The emulator's JTAG port: Debug Module, TAP and remote_bitbang server, polled by the machine."""

from __future__ import annotations

from .dm import DebugModule, DebugTarget
from .jtag import Tap
from .rbb import RemoteBitbangServer

# While harts run, one poll serves a talking debugger for at most this long before the
# guest runs again (the debugger's next request then waits for the next round).
RUNNING_BUDGET_S = 0.02
# With every hart halted nothing else needs the host: serve for longer stretches.
HALTED_BUDGET_S = 0.2


class JtagPort:
    """``-jtag SPEC``: a debugger reaches ``target``'s harts through OpenOCD's remote_bitbang."""

    def __init__(self, target: DebugTarget, spec: str, idcode: int) -> None:
        self.target = target
        self.dm = DebugModule(target)
        self.tap = Tap(self.dm, idcode)
        self.server = RemoteBitbangServer(spec, self.tap)

    @property
    def address(self) -> str:
        """Where the port listens: ``tcp:127.0.0.1:PORT`` or ``unix:PATH``."""
        return self.server.address

    def poll(self) -> None:
        """Serve what a debugger sent since the last round, without waiting (once per round)."""
        self.server.serve(0.0, RUNNING_BUDGET_S)

    def all_halted(self) -> bool:
        """True if every hart is halted in debug mode."""
        return all(h.halted for h in self.target.harts)

    def wait(self, timeout: float) -> None:
        """Every hart is halted: wait up to ``timeout`` s for the debugger and serve it."""
        self.server.serve(timeout, HALTED_BUDGET_S)

    def on_machine_reset(self) -> None:
        """The machine was reset: harts report havereset."""
        self.dm.on_machine_reset()

    def close(self) -> None:
        """Stop listening."""
        self.server.close()
