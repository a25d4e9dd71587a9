"""Command-line pieces shared by the targets that take QEMU's options (QEMU, the emulator)."""

from __future__ import annotations

from collections.abc import Mapping

from harness.board import Board
from harness.config import NOT_A_FILE

IMAGE_OPTIONS = {"bios": "-bios", "kernel": "-kernel", "initrd": "-initrd", "dtb": "-dtb"}


def image_arguments(board: Board, extra: Mapping[str, str], append: str | None) -> list[str]:
    """``-bios``/``-kernel``/``-initrd``/``-dtb`` from the board's image slots, and ``-append``."""
    argv: list[str] = []
    for slot, option in IMAGE_OPTIONS.items():
        if slot not in board.images:
            continue
        value = board.expand(board.images[slot], f"images.{slot}", extra)
        # `-bios none` and `-bios default` mean something to QEMU; an empty slot of any other kind
        # is left out (a board keeps an `initrd = "none"` slot for plans that boot Linux to fill).
        if value.lower() in NOT_A_FILE and (slot != "bios" or not value):
            continue
        argv += [option, value]
    if append:
        argv += ["-append", append]
    return argv


def placeholder_variables(board: Board) -> dict[str, str]:
    """Variables good enough to expand a profile while validating it, before any run."""
    return {**dict.fromkeys(board.images, ""), "seed": "0"}
