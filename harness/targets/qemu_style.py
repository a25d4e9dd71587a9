"""Command-line pieces shared by the targets that take QEMU's options (QEMU, the emulator)."""

from __future__ import annotations

from collections.abc import Mapping

from harness.board import Board

IMAGE_OPTIONS = {"bios": "-bios", "kernel": "-kernel", "initrd": "-initrd", "dtb": "-dtb"}


def image_arguments(board: Board, extra: Mapping[str, str], append: str | None) -> list[str]:
    """``-bios``/``-kernel``/``-initrd``/``-dtb`` from the board's image slots, and ``-append``."""
    argv: list[str] = []
    for slot, option in IMAGE_OPTIONS.items():
        if slot in board.images:
            argv += [option, board.expand(board.images[slot], f"images.{slot}", extra)]
    if append:
        argv += ["-append", append]
    return argv


def placeholder_variables(board: Board) -> dict[str, str]:
    """Variables good enough to expand a profile while validating it, before any run."""
    return {**dict.fromkeys(board.images, ""), "seed": "0"}
