"""Per-hart debug state: debug mode (dcsr/dpc/dscratch), the trigger module, the careful stepper.

A hart in debug mode is *halted*: the scheduler skips it and the Debug Module reads and
writes its state between quanta. Entering debug mode saves the pc in dpc and the privilege
in dcsr.prv and runs the hart in M-mode until resume, as the spec's debug mode does.
Triggers and single-stepping run on the careful stepper (stepper.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..trap import PRV_M, PRV_S, PRV_U

if TYPE_CHECKING:
    from ..cpu import Hart

M64 = (1 << 64) - 1

# dcsr fields (0.13.2 section 4.8.1).
DCSR_XDEBUGVER = 4 << 28
DCSR_EBREAKM = 1 << 15
DCSR_EBREAKS = 1 << 13
DCSR_EBREAKU = 1 << 12
DCSR_STEPIE = 1 << 11
DCSR_STOPCOUNT = 1 << 10
DCSR_STOPTIME = 1 << 9
DCSR_CAUSE_SHIFT = 6
DCSR_MPRVEN = 1 << 4
DCSR_STEP = 1 << 2
DCSR_PRV = 3
DCSR_WRITABLE = DCSR_EBREAKM | DCSR_EBREAKS | DCSR_EBREAKU | DCSR_STEPIE | DCSR_STOPCOUNT | DCSR_STEP | DCSR_PRV
# stoptime is fixed at 1: the emulator's mtime counts executed instructions, so it stands still
# whenever every hart is halted; while others run it goes on, as a timer that all harts share
# (the CLINT's, not a hart-local one) must.

# dcsr.cause: why the hart entered debug mode.
CAUSE_EBREAK = 1
CAUSE_TRIGGER = 2
CAUSE_HALTREQ = 3
CAUSE_STEP = 4
CAUSE_RESETHALTREQ = 5

# mcontrol (tdata1 with type 2), XLEN 64.
TRIGGER_COUNT = 4
MCONTROL_TYPE = 2 << 60
MCONTROL_DMODE = 1 << 59
MCONTROL_HIT = 1 << 20
MCONTROL_ACTION_SHIFT = 12
MCONTROL_CHAIN = 1 << 11
MCONTROL_MATCH_SHIFT = 7
MCONTROL_M = 1 << 6
MCONTROL_S = 1 << 4
MCONTROL_U = 1 << 3
MCONTROL_EXECUTE = 1 << 2
MCONTROL_STORE = 1 << 1
MCONTROL_LOAD = 1 << 0
ACTION_EXCEPTION = 0
ACTION_DEBUG = 1
MATCH_EQUAL = 0
MATCH_NAPOT = 1
MATCH_GE = 2
MATCH_LT = 3
SUPPORTED_MATCHES = (MATCH_EQUAL, MATCH_NAPOT, MATCH_GE, MATCH_LT)
# tinfo: the trigger types each trigger supports (mcontrol only).
TINFO = 1 << 2
PRIV_BIT = {PRV_M: MCONTROL_M, PRV_S: MCONTROL_S, PRV_U: MCONTROL_U}
EBREAK_BIT = {PRV_M: DCSR_EBREAKM, PRV_S: DCSR_EBREAKS, PRV_U: DCSR_EBREAKU}


class HartDebug:
    """One hart's debug CSRs and triggers (reset with the hart)."""

    def __init__(self, has_s: bool) -> None:
        self.has_s = has_s
        # Counters stop in debug mode at reset (stopcount 1, writable); stoptime is fixed at 1.
        self.dcsr = DCSR_XDEBUGVER | DCSR_STOPCOUNT | DCSR_STOPTIME | PRV_M
        self.dpc = 0
        self.dscratch = [0, 0]
        self.tselect = 0
        self.tdata1 = [MCONTROL_TYPE] * TRIGGER_COUNT
        self.tdata2 = [0] * TRIGGER_COUNT
        # Set by an ebreak executed from the program buffer (the end of the program) and by a
        # trap taken in debug mode (which aborts it).
        self.progbuf_done = False
        self.progbuf_exception = False

    # --- the trigger CSRs --------------------------------------------------------------------

    def write_tdata1(self, value: int, in_debug: bool) -> None:
        """tdata1 of the selected trigger, legalised (WARL): always mcontrol; dmode only from
        debug mode, and a trigger debug mode owns is read-only to M-mode."""
        i = self.tselect
        if self.tdata1[i] & MCONTROL_DMODE and not in_debug:
            return
        dmode = value & MCONTROL_DMODE if in_debug else 0
        action = value >> MCONTROL_ACTION_SHIFT & 0xF
        if action not in (ACTION_EXCEPTION, ACTION_DEBUG) or (action == ACTION_DEBUG and not dmode):
            action = ACTION_EXCEPTION
        match = value >> MCONTROL_MATCH_SHIFT & 0xF
        if match not in SUPPORTED_MATCHES:
            match = MATCH_EQUAL
        privs = MCONTROL_M | MCONTROL_U | (MCONTROL_S if self.has_s else 0)
        kinds = MCONTROL_EXECUTE | MCONTROL_STORE | MCONTROL_LOAD
        # The last trigger has no next one to chain to.
        chain = value & MCONTROL_CHAIN if i < TRIGGER_COUNT - 1 else 0
        self.tdata1[i] = (
            MCONTROL_TYPE
            | dmode
            | (value & MCONTROL_HIT)
            | action << MCONTROL_ACTION_SHIFT
            | chain
            | match << MCONTROL_MATCH_SHIFT
            | (value & (privs | kinds))
        )

    def armed(self) -> bool:
        """True if some trigger can fire (it names a kind of access and a privilege)."""
        kinds = MCONTROL_EXECUTE | MCONTROL_STORE | MCONTROL_LOAD
        privs = MCONTROL_M | MCONTROL_S | MCONTROL_U
        return any(t & kinds and t & privs for t in self.tdata1)

    def ebreak_halts(self, priv: int) -> bool:
        """True if an ebreak in ``priv`` enters debug mode (dcsr.ebreakm/s/u)."""
        return bool(self.dcsr & EBREAK_BIT[priv])

    def matching(self, priv: int, kind: int, address: int) -> int | None:
        """The trigger that fires on a ``kind`` access (an MCONTROL_ bit) to ``address``: the
        first whose chain matches as a whole (triggers i..j where all but j have chain set: the
        chain fires when every one of them matches, with j's action, as a range from a "ge"
        and an "lt" trigger does)."""
        pbit = PRIV_BIT[priv]
        tdata1 = self.tdata1
        first = 0
        while first < TRIGGER_COUNT:
            last = first
            while last < TRIGGER_COUNT - 1 and tdata1[last] & MCONTROL_CHAIN:
                last += 1
            if all(self._matches(i, pbit, kind, address) for i in range(first, last + 1)):
                return last
            first = last + 1
        return None

    def _matches(self, i: int, pbit: int, kind: int, address: int) -> bool:
        t = self.tdata1[i]
        if not (t & kind and t & pbit):
            return False
        match = t >> MCONTROL_MATCH_SHIFT & 0xF
        target = self.tdata2[i]
        if match == MATCH_EQUAL:
            return address == target
        if match == MATCH_NAPOT:
            # tdata2's trailing ones give the size: k ones cover 2^(k+1) bytes from its base.
            ones = ((~target & (target + 1)) & M64).bit_length() - 1
            mask = ~((1 << (ones + 1)) - 1) & M64
            return address & mask == target & mask
        if match == MATCH_GE:
            return address >= target
        return address < target


# --- debug mode ------------------------------------------------------------------------------


def enter_debug(h: Hart, cause: int, pc: int) -> None:
    """Halt ``h`` into debug mode at ``pc`` (saved in dpc) for ``cause``; it runs in M-mode."""
    d = h.dbg
    d.dpc = pc
    d.dcsr = (d.dcsr & ~(7 << DCSR_CAUSE_SHIFT | DCSR_PRV)) | cause << DCSR_CAUSE_SHIFT | h.priv
    h.halted = True
    h.debug_mode = True
    h.wfi = False
    # Leave the engine's loop at once (a quantum may have instructions left).
    h.yielding = True
    h.set_priv(PRV_M)


def resume(h: Hart) -> None:
    """Leave debug mode: back to dpc in dcsr.prv (legalised), stepping if dcsr.step."""
    d = h.dbg
    prv = d.dcsr & DCSR_PRV
    if prv == 2 or (prv == PRV_S and not h.has_s):
        prv = PRV_U
    h.debug_mode = False
    h.halted = False
    h.pc = d.dpc
    h.set_priv(prv)
    h.refresh_stepper()
