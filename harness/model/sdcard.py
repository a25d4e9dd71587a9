"""A SiFive board's SD card, as its boot chain reads it: the mask ROM, U-Boot SPL, U-Boot.

A board profile names the card in its ``sdcard`` image slot. The FU540/FU740 mask ROM (MSEL
1011) loads the partition of the SPL type into the L2 scratchpad and runs it; the SPL reads the
U-Boot FIT from raw sector 0x822; U-Boot's distro boot reads ``extlinux/extlinux.conf`` from a
legacy-bootable partition. The pre-boot check reads the card's partition table and names what
the chain would miss; a QEMU board whose ``bios`` slot names the card gets the SPL partition's
bytes, which is what the mask ROM hands on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.model import gpt
from harness.model.board import Board
from harness.model.preboot_finding import Finding, Level

SLOT = "sdcard"
FIT_SECTOR = 0x822  # CONFIG_SYS_MMCSD_RAW_MODE_U_BOOT_SECTOR of Debian's sifive_* builds
# Beside every card images/sdcard/build.py writes the record of what went on it: one
# ``ROLE VALUE`` line each, ``board`` first, then append and the files (resolved paths).
RECORD = "inputs.txt"
RECORDED_FILES = ("kernel", "initrd", "dtb", "spl", "fit", "extlinux")
# The machine (QEMU's or the emulator's, before any option) that is each card's board: a card's
# SPL brings up its own SoC's DDR and clocks, and stops on the other's (the FU540 of the
# Unleashed, QEMU's sifive_u; the FU740 of the Unmatched, the emulator's unmatched).
CARD_MACHINES = {"sifive_u": "unleashed", "unmatched": "unmatched"}


class CardError(Exception):
    """The card cannot give what the mask ROM looks for."""


def card_path(board: Board, variables: Mapping[str, str]) -> Path | None:
    """The card the board's ``sdcard`` slot names, or None."""
    if SLOT not in board.images:
        return None
    return board.image_files(variables, [SLOT]).get(SLOT)


def _record(card: Path) -> list[str]:
    """The lines of ``card``'s record ([] for a card without one, or another tool's file)."""
    try:
        lines = (card.resolve().parent / RECORD).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    # Another tool's file of that name (images/linux/out has one of its own) has no board line.
    return lines if lines and lines[0].startswith("board ") else []


def card_board(card: Path) -> str | None:
    """The board ``card`` was built for, as its record says (None for a card without one)."""
    lines = _record(card)
    return lines[0].partition(" ")[2].strip() or None if lines else None


def recorded_files(card: Path) -> dict[str, Path]:
    """The files ``card`` was built from, by role, as its record beside it says ({} for a card
    without one, or one whose record cannot be read: a card from elsewhere)."""
    files = {}
    for line in _record(card):
        role, _, value = line.partition(" ")
        if role in RECORDED_FILES and value.strip():
            files[role] = Path(value.strip())
    return files


def card_findings(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """What the boot chain would miss on the card, from its partition table (before any boot)."""
    card = card_path(board, variables)
    if card is None or not card.is_file():
        return []  # an empty slot, or a missing file (check_images names that)
    source, key = str(board.path), f"images.{SLOT}"
    try:
        parts = gpt.read_table(card)
    except gpt.GptError as exc:
        return [Finding(Level.ERROR, source, key, f"{exc}: the mask ROM finds no SPL partition on a card without one")]
    findings = []
    if gpt.find(parts, gpt.PartitionType.SIFIVE_SPL) is None:
        findings.append(
            Finding(
                Level.ERROR,
                source,
                key,
                f"{card} has no SPL partition (type {gpt.PartitionType.SIFIVE_SPL.value}): the mask ROM would "
                "find nothing to load and the board would stay silent; build the card with images/sdcard/build.py",
            )
        )
    fit = gpt.find(parts, gpt.PartitionType.SIFIVE_UBOOT)
    if fit is None or fit.first != FIT_SECTOR:
        where = "no U-Boot partition" if fit is None else f"its U-Boot partition at sector {fit.first}"
        findings.append(
            Finding(
                Level.ERROR,
                source,
                key,
                f"{card} has {where} (type {gpt.PartitionType.SIFIVE_UBOOT.value} at sector {FIT_SECTOR:#x}): "
                f"U-Boot SPL reads the FIT from raw sector {FIT_SECTOR:#x} and would fail",
            )
        )
    built_for, machine = card_board(card), _machine(board)
    runs = CARD_MACHINES.get(machine.split(",")[0]) if machine else None
    if built_for in CARD_MACHINES.values() and runs is not None and built_for != runs:
        findings.append(
            Finding(
                Level.ERROR,
                source,
                key,
                f"{card} was built for the {built_for} (its {RECORD}), but board {board.name} runs machine "
                f"{machine}, which is the {runs}: the card's SPL would not bring up its DDR; use a card built "
                f"with images/sdcard/build.py --board {runs}",
            )
        )
    if not any(part.attributes & gpt.LEGACY_BOOTABLE for part in parts):
        findings.append(
            Finding(
                Level.WARNING,
                source,
                key,
                f"{card} has no legacy-bootable partition: U-Boot's distro boot scans only partition 1 for "
                "extlinux/extlinux.conf",
            )
        )
    return findings


def _machine(board: Board) -> str | None:
    """The machine a QEMU or emulator board runs (its own section's ``machine``), else None."""
    machine = board.settings.get(board.target, {}).get("machine") if board.target in ("qemu", "emulator") else None
    return machine if isinstance(machine, str) else None


def spl_image(card: Path, dest: Path) -> Path:
    """Write the card's SPL partition to ``dest``, as the mask ROM loads it; returns ``dest``."""
    try:
        spl = gpt.find(gpt.read_table(card), gpt.PartitionType.SIFIVE_SPL)
    except gpt.GptError as exc:
        raise CardError(str(exc)) from None
    if spl is None:
        raise CardError(f"{card} has no SPL partition (type {gpt.PartitionType.SIFIVE_SPL.value})")
    with card.open("rb") as handle:
        handle.seek(spl.offset)
        dest.write_bytes(handle.read(spl.size))
    return dest
