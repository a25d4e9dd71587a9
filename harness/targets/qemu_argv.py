"""Command-line pieces shared by the targets that take QEMU's options (QEMU, the emulator)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.model import sdcard
from harness.model.board import Board
from harness.model.config import NOT_A_FILE

IMAGE_OPTIONS = {"bios": "-bios", "kernel": "-kernel", "initrd": "-initrd", "dtb": "-dtb"}
# Slots that are disks: the SD card of a SiFive board. snapshot=on: the guest's writes go to a
# temporary overlay, so a cached card stays as it was built (QEMU refuses a read-only SD card).
DRIVE_SLOTS = {sdcard.SLOT: "if=sd,format=raw,snapshot=on"}


def image_arguments(
    board: Board, extra: Mapping[str, str], append: str | None, firmware_dir: Path | None = None
) -> list[str]:
    """``-bios``/``-kernel``/``-initrd``/``-dtb`` and ``-drive`` from the board's image slots, and ``-append``.

    A ``bios`` slot that names the same file as the ``sdcard`` slot boots the card as the
    SiFive mask ROM does: its SPL partition is written to ``firmware_dir`` and given as
    ``-bios`` (without ``firmware_dir``, for a description, the card's path stays).
    """
    argv: list[str] = []
    card = board.images.get(sdcard.SLOT)
    for slot, option in IMAGE_OPTIONS.items():
        if slot not in board.images:
            continue
        value = board.expand(board.images[slot], f"images.{slot}", extra)
        # `-bios none` and `-bios default` mean something to QEMU; an empty slot of any other kind
        # is left out (a board keeps an `initrd = "none"` slot for plans that boot Linux to fill).
        if value.lower() in NOT_A_FILE and (slot != "bios" or not value):
            continue
        boots_card = slot == "bios" and card and value == board.expand(card, f"images.{sdcard.SLOT}", extra)
        if boots_card and firmware_dir is not None:
            value = str(sdcard.spl_image(Path(value), firmware_dir / "spl.bin"))
        argv += [option, value]
    for slot, options in DRIVE_SLOTS.items():
        value = board.expand(board.images.get(slot, ""), f"images.{slot}", extra)
        if value.lower() not in NOT_A_FILE:
            # QEMU's option syntax doubles a comma inside a value.
            argv += ["-drive", f"file={value.replace(',', ',,')},{options}"]
    if append:
        argv += ["-append", append]
    return argv


def placeholder_variables(board: Board) -> dict[str, str]:
    """Variables good enough to expand a profile while validating it, before any run."""
    return {**dict.fromkeys(board.images, ""), "seed": "0"}
