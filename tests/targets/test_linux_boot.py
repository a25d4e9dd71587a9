"""Checks before a Linux guest boots (harness/targets/linux_boot.py): the Image header, a DTB's
bootargs, a broken DTB, and ``console=`` naming the machine's UART.

The kernel/initrd/disk/``root=`` combinations of the project's seed are checked, through the
pre-boot check, in tests/run/test_preboot_check.py.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from harness.model.board import Board
from harness.model.preboot_finding import Level
from harness.targets.linux_boot import (
    check_boot_arguments,
    check_console,
    dtb_bootargs,
    is_linux_image,
)


def image(path: Path, *, new_magic: bool = True, old_magic: bool = True) -> Path:
    header = bytearray(64)
    if old_magic:
        struct.pack_into("<8s", header, 0x30, b"RISCV\0\0\0")
    if new_magic:
        struct.pack_into("<4s", header, 0x38, b"RSC\x05")
    path.write_bytes(bytes(header) + b"\0" * 256)
    return path


def board(tmp_path: Path, **images: Path) -> Board:
    return Board(
        name="linux", path=tmp_path / "linux.toml", target="qemu", images={k: str(v) for k, v in images.items()}
    )


def test_either_image_magic_makes_a_linux_image(tmp_path: Path) -> None:
    assert is_linux_image(image(tmp_path / "both"))
    assert is_linux_image(image(tmp_path / "new", old_magic=False))
    assert is_linux_image(image(tmp_path / "old", new_magic=False))
    assert not is_linux_image(image(tmp_path / "none", new_magic=False, old_magic=False))
    (tmp_path / "short").write_bytes(b"RISCV")
    assert not is_linux_image(tmp_path / "short")
    assert not is_linux_image(tmp_path / "missing")
    assert not is_linux_image(tmp_path)  # a folder cannot be read: not an image, no traceback


@pytest.mark.skipif(shutil.which("dtc") is None, reason="needs dtc (device-tree-compiler, make deps)")
def test_bootargs_are_read_from_chosen(tmp_path: Path) -> None:
    source = '/dts-v1/;\n/ { chosen { bootargs = "root=/dev/vda2 console=ttySIF0"; }; };\n'
    blob = tmp_path / "b.dtb"
    subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", str(blob)], input=source.encode(), check=True)
    assert dtb_bootargs(blob) == "root=/dev/vda2 console=ttySIF0"


def test_a_broken_dtb_is_one_error_on_the_dtb_slot(tmp_path: Path) -> None:
    broken = tmp_path / "broken.dtb"
    broken.write_bytes(b"\xd0\x0d\xfe\xed" + b"\0" * 12)
    found = check_boot_arguments(
        board(tmp_path, kernel=image(tmp_path / "Image"), dtb=broken), {}, append=None, has_disk=True
    )
    assert [(f.level, f.key) for f in found] == [(Level.ERROR, "images.dtb")]
    assert f"{broken} is not a valid device tree blob" in found[0].message


def test_a_kernel_that_is_not_linux_is_not_judged(tmp_path: Path) -> None:
    firmware = tmp_path / "u-boot.bin"
    firmware.write_bytes(b"\x97\x02\x00\x00" * 64)
    b = board(tmp_path, kernel=firmware)
    assert check_boot_arguments(b, {}, append=None, has_disk=True) == []
    assert check_console(b, {}, append="console=ttyS0", uart="ttySIF", key="qemu.append") == []


@pytest.mark.parametrize(
    ("append", "uart", "error"),
    [
        ("root=/dev/vda console=ttyS0,115200", "ttyS", None),
        ("earlycon console=tty0 console=ttySIF0", "ttySIF", None),
        ("console=ttyS0", "ttySIF", "gets console=ttyS0 but this machine's UART is ttySIF0"),
        ("console=hvc0 console=ttyS1", "ttyS", "gets console=hvc0 console=ttyS1 but this machine's UART is ttyS0"),
        ("root=/dev/vda", "ttyS", "gets no console= but this machine's UART is ttyS0"),
        (None, "ttySIF", "gets no console= but"),
    ],
)
def test_console_must_name_the_machines_uart(tmp_path: Path, append: str | None, uart: str, error: str | None) -> None:
    found = check_console(
        board(tmp_path, kernel=image(tmp_path / "Image")), {}, append=append, uart=uart, key="k.append"
    )
    if error is None:
        assert found == []
        return
    assert len(found) == 1 and found[0].level is Level.ERROR and found[0].key == "k.append"
    assert error in found[0].message and found[0].message.endswith(f"add console={uart}0 to k.append")
