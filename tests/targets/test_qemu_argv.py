"""QEMU's image options from a board's slots (harness/targets/qemu_argv.py)."""

from __future__ import annotations

from pathlib import Path

from harness.model.board import Board
from harness.targets.qemu_argv import image_arguments, placeholder_variables


def board(**images: str) -> Board:
    return Board(name="b", path=Path("/lab/b.toml"), target="qemu", images=images)


def test_each_slot_is_its_option_in_a_fixed_order_then_append() -> None:
    b = board(dtb="/i/b.dtb", kernel="/i/Image", bios="/i/fw.bin", initrd="/i/initrd")
    assert image_arguments(b, {}, "console=ttyS0") == [
        "-bios", "/i/fw.bin", "-kernel", "/i/Image", "-initrd", "/i/initrd", "-dtb", "/i/b.dtb",
        "-append", "console=ttyS0",
    ]  # fmt: skip


def test_variables_fill_the_slots() -> None:
    b = board(kernel="/builds/{build}/Image")
    assert image_arguments(b, {"build": "r42"}, None) == ["-kernel", "/builds/r42/Image"]


def test_empty_slots_are_left_out_but_bios_none_is_given() -> None:
    assert image_arguments(board(initrd="none", kernel="", dtb=""), {}, None) == []
    assert image_arguments(board(bios="none"), {}, None) == ["-bios", "none"]
    assert image_arguments(board(bios="default"), {}, "") == ["-bios", "default"]


def test_the_sd_card_is_a_drive_with_commas_doubled() -> None:
    assert image_arguments(board(sdcard="/cards/a,b.img"), {}, None) == [
        "-drive",
        "file=/cards/a,,b.img,if=sd,format=raw,snapshot=on",
    ]
    assert image_arguments(board(sdcard="none"), {}, None) == []


def test_without_a_firmware_folder_a_card_booted_as_bios_stays_the_card() -> None:
    b = board(bios="/cards/u.img", sdcard="/cards/u.img")
    assert image_arguments(b, {}, None) == [
        "-bios", "/cards/u.img", "-drive", "file=/cards/u.img,if=sd,format=raw,snapshot=on",
    ]  # fmt: skip


def test_placeholder_variables_name_every_slot_and_a_seed() -> None:
    assert placeholder_variables(board(kernel="{k}", initrd="x")) == {"kernel": "", "initrd": "", "seed": "0"}
