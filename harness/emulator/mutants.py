"""Named mutants of this emulator: real bug classes from other emulators, one source edit each.

A mutant is never a switch in the shipped emulator (that would cost the hot path): :func:`make_copy`
copies the project's code (``harness/``, ``boards/``, ``testplans/``, ``tests/``, ``pyproject.toml``;
``images/`` linked)
into a folder and edits the copy. Running hartbeat or the ISA tests *from that copy* runs the
mutant (the emulator process imports the code next to the hartbeat that started it, see
``harness.targets.emulator.BOOTSTRAP``). ``benchmarks/mutation_score.py`` runs the shipped plans
and the ISA differential tests against every mutant and prints which caught it.

Each edit's ``old`` text must occur exactly once in the current source, so a refactor of the
emulator that moves the code makes :func:`make_copy` fail loudly instead of testing nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
COPIED = ("harness", "boards", "testplans", "tests", "pyproject.toml")
LINKED = ("images",)


class MutantError(Exception):
    """A mutant no longer applies to the emulator's source."""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (exactly one occurrence) by ``new`` in ``path`` (relative to the root)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """A named bug: what goes wrong, where the class was seen, and the edits that make it."""

    name: str
    bug: str
    seen_in: str
    edits: tuple[Edit, ...]


CPU = "harness/emulator/cpu.py"
SYSOPS = "harness/emulator/sysops.py"
MACHINE = "harness/emulator/machine.py"
INTERP = "harness/emulator/interp.py"
INLINE = "harness/emulator/inline.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "amo-rd-before-store",
        "an AMO writes rd from its load, then its store faults (COW after fork); the retry uses the clobbered rd",
        "semu (shared/seeds/004, PR #141)",
        (
            Edit(
                CPU,
                "                paddr = self._data_addr(addr, mmu.WRITE, pc)\n                try:\n"
                "                    old = self.bus.read(paddr, size)\n"
                "                except BusError:\n"
                '                    self.bus.fault(paddr, size, "amo", self.hartid, pc)\n'
                "                    raise Trap(STORE_ACCESS, addr, pc) from None\n"
                "                new = _amo_result(op, old, x[d.rs2], size)\n",
                "                operand = x[d.rs2]\n"
                "                loaded = self.ld(addr, size, True, pc)\n                if d.rd:\n"
                "                    x[d.rd] = loaded & M64\n"
                "                paddr = self._data_addr(addr, mmu.WRITE, pc)\n                try:\n"
                "                    old = self.bus.read(paddr, size)\n"
                "                except BusError:\n"
                '                    self.bus.fault(paddr, size, "amo", self.hartid, pc)\n'
                "                    raise Trap(STORE_ACCESS, addr, pc) from None\n"
                "                new = _amo_result(op, old, operand, size)\n",
            ),
            # The interp engine keeps registers in its own list and copies rd back after the
            # call: the mutant's early rd must reach that list too when the store faults.
            Edit(
                INTERP,
                "    if op.kind != FPU:\n        h.amo(d, upc)\n",
                "    if op.kind != FPU:\n        try:\n            h.amo(d, upc)\n        except BaseException:\n"
                "            if op.rd:\n                xs[op.rd] = _signed(x[op.rd])\n            raise\n",
            ),
        ),
    ),
    Mutant(
        "reservation-kept-across-harts",
        "an LR reservation survives other harts running (and storing to the reserved word)",
        "rv32emu, semu (LR/SC without a coherent reservation)",
        (
            Edit(
                MACHINE,
                "                h.reservation = None\n            ran = True\n",
                "                pass\n            ran = True\n",
            ),
        ),
    ),
    Mutant(
        "reservation-kept-across-traps",
        "an SC does not consume the reservation, so the kernel's SC on trap return does not break it",
        "QEMU (reservation not cleared, fixed in target/riscv), rv32emu",
        (
            Edit(
                CPU,
                "            ok = self.reservation == addr\n            self.reservation = None\n",
                "            ok = self.reservation == addr\n",
            ),
            # The interpreter runs SC inline on RAM the write TLB maps (inline.atomic).
            Edit(
                INLINE,
                "        ok = h.reservation == a & M\n        h.reservation = None\n",
                "        ok = h.reservation == a & M\n",
            ),
        ),
    ),
    Mutant(
        "sc-without-reservation",
        "an SC succeeds whether or not a reservation is held",
        "early emulators that implement SC as a plain store",
        (
            Edit(CPU, "            ok = self.reservation == addr\n", "            ok = True\n"),
            Edit(INLINE, "        ok = h.reservation == a & M\n", "        ok = True\n"),
        ),
    ),
    Mutant(
        "mtimecmp-write-keeps-pending",
        "writing mtimecmp (or mtime moving back below it) does not clear a pending timer interrupt",
        "semu, TinyEMU-style CLINTs that latch MTIP",
        (
            Edit(
                "harness/emulator/devices/clint.py",
                "            self.set_irq(hart, MIP_MTIP, now >= cmp)\n",
                "            if now >= cmp:\n                self.set_irq(hart, MIP_MTIP, True)\n",
            ),
            Edit(
                "harness/emulator/devices/clint.py",
                "                self.set_irq(hart, MIP_MTIP, self.clock.mtime() >= self.mtimecmp[hart])\n",
                "                if self.clock.mtime() >= self.mtimecmp[hart]:\n"
                "                    self.set_irq(hart, MIP_MTIP, True)\n",
            ),
        ),
    ),
    Mutant(
        "wfi-ignores-ipi",
        "a hart in WFI wakes on timer and external interrupts but not on a software interrupt (IPI)",
        "semu, rv32emu (WFI woken by the timer only)",
        (Edit(MACHINE, "                if not h.mip & h.mie:\n", "                if not h.mip & h.mie & ~0xA:\n"),),
    ),
    Mutant(
        "sum-ignored",
        "S-mode may load and store user pages with sstatus.SUM clear",
        "QEMU before 2.12 (SUM/PUM), TinyEMU",
        (
            Edit(
                "harness/emulator/mmu.py",
                "            ok = not user or bool(h.mstatus & MSTATUS_SUM)\n",
                "            ok = True or bool(h.mstatus & MSTATUS_SUM)\n",
            ),
        ),
    ),
    Mutant(
        "misaligned-amo-succeeds",
        "a misaligned AMO, LR or SC completes instead of raising an address-misaligned exception",
        "semu, rv32emu",
        (
            Edit(
                CPU,
                "        if addr & (size - 1):\n            raise Trap(LOAD_MISALIGNED",
                "        if False:\n            raise Trap(LOAD_MISALIGNED",
            ),
        ),
    ),
    Mutant(
        "amo-w-rd-not-sign-extended",
        "a 32-bit AMO (amo*.w) writes rd zero-extended instead of sign-extended",
        "rv32emu's RV64 port, QEMU TCG (*W ops)",
        (
            Edit(
                CPU,
                "            value = old - (1 << (size * 8)) if old >> (size * 8 - 1) else old\n",
                "            value = old\n",
            ),
            Edit(INLINE, "        old = LD_i(ram, p | o)[0]\n", "        old = LD_I(ram, p | o)[0]\n"),
        ),
    ),
    Mutant(
        "sfence-vma-no-flush",
        "sfence.vma does not flush the TLB (only a satp write does)",
        "semu, TinyEMU",
        (
            Edit(
                SYSOPS,
                "    if d.rs1:\n        h.flush_page(h.x[d.rs1])\n    else:\n        h.fence_translations()\n",
                "    pass\n",
            ),
        ),
    ),
    Mutant(
        "code-cache-never-invalidated",
        "stores to code never invalidate predecoded instructions, and fence.i (a no-op here) does not either",
        "rv32emu block cache, QEMU TB invalidation bugs",
        (
            Edit(
                "harness/emulator/codecache.py",
                '        """Invalidate the code overlapping a store of ``size`` bytes at ``paddr`` on every hart."""\n',
                '        """Invalidate the code overlapping a store of ``size`` bytes at ``paddr`` on every hart."""\n'
                "        return\n",
            ),
        ),
    ),
)

BY_NAME = {m.name: m for m in MUTANTS}


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")}


def make_copy(mutant: Mutant | None, dest: Path, root: Path = ROOT) -> Path:
    """Copy the project's code to ``dest`` with ``mutant`` applied (None: unchanged); return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (root / name).is_dir():
            shutil.copytree(root / name, dest / name, ignore=_ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(root / name, dest / name)
    for name in LINKED:
        link = dest / name
        if not link.exists():
            link.symlink_to((root / name).resolve())
    for edit in mutant.edits if mutant else ():
        path = dest / edit.path
        text = path.read_text()
        count = text.count(edit.old)
        if count != 1:
            raise MutantError(
                f"mutant {mutant.name if mutant else ''}: {edit.path}: the text to replace occurs {count} times, "
                "expected once (the emulator changed: update harness/emulator/mutants.py)"
            )
        path.write_text(text.replace(edit.old, edit.new))
    return dest
