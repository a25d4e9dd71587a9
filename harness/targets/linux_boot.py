"""Checks before a Linux guest boots: kernel, initrd, disk and ``root=`` must agree, and
``console=`` must name the machine's UART.

The QEMU and emulator targets run them as part of their pre-boot checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import fdt

from harness.model.board import Board
from harness.model.preboot_finding import Finding, Level

# The Linux name of each emulated machine's UART, for the console= check (emulator and process
# boards that declare `machine`).
MACHINE_UARTS = {"virt": "ttyS", "unmatched": "ttySIF"}

# RISC-V Linux `Image` header: "RSC\x05" at 0x38 (and the older "RISCV" at 0x30).
_IMAGE_MAGIC2 = (0x38, b"RSC\x05")
_IMAGE_MAGIC = (0x30, b"RISCV\x00\x00\x00")


def is_linux_image(path: Path) -> bool:
    """True for a RISC-V Linux ``Image`` (what ``booti`` and QEMU ``-kernel`` take)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(64)
    except OSError:
        return False
    return any(header[offset : offset + len(magic)] == magic for offset, magic in (_IMAGE_MAGIC2, _IMAGE_MAGIC))


def dtb_bootargs(path: Path) -> str | None:
    """``/chosen/bootargs`` of a DTB, ``None`` when absent; raises ``ValueError`` on a bad DTB."""
    tree = fdt.parse_dtb(path.read_bytes())
    prop = tree.get_property("bootargs", "/chosen")
    return None if prop is None else str(prop.value)


def check_boot_arguments(
    board: Board, variables: Mapping[str, str], *, append: str | None, has_disk: bool
) -> list[Finding]:
    """Kernel, initrd, disk and ``root=`` must agree before a Linux guest boots.

    The project's seed: a guest panicked with ``VFS: Cannot open root device ""`` because the
    DTB's bootargs had no ``root=`` while only a disk was given.
    """
    images = board.image_files(variables)
    source = str(board.path)
    kernel, initrd, dtb = images.get("kernel"), images.get("initrd"), images.get("dtb")
    findings: list[Finding] = []
    bootargs, bootargs_from = append, "qemu.append"
    if dtb is not None and dtb.is_file():
        try:
            from_dtb = dtb_bootargs(dtb)
        except (ValueError, IndexError, OSError) as exc:
            return [Finding(Level.ERROR, source, "images.dtb", f"{dtb} is not a valid device tree blob: {exc}")]
        if bootargs is None:
            bootargs, bootargs_from = from_dtb, f"/chosen/bootargs of {dtb}"
    if kernel is None or not kernel.is_file() or not is_linux_image(kernel):
        return findings
    words = (bootargs or "").split()
    root = next((w.split("=", 1)[1] for w in words if w.startswith("root=")), None)
    if has_disk and initrd is None and root is None:
        findings.append(
            Finding(
                Level.ERROR,
                source,
                "qemu.append",
                f"Linux kernel {kernel} gets a disk but no initrd, and {bootargs_from} has no root= "
                f"({bootargs!r}); it would panic with 'VFS: Cannot open root device'. "
                'Add e.g. append = "root=/dev/vda rw console=ttyS0", or give an initrd',
            )
        )
    if initrd is not None and root is not None and root.startswith("/dev/vda"):
        findings.append(
            Finding(
                Level.WARNING,
                source,
                "qemu.append",
                f"both an initrd ({initrd}) and root={root}: the kernel will run the initrd's /init, which "
                "must mount the disk itself; drop one of them unless that is intended",
            )
        )
    return findings


def check_console(
    board: Board, variables: Mapping[str, str], *, append: str | None, uart: str, key: str
) -> list[Finding]:
    """A Linux kernel's ``console=`` must name the machine's UART (``uart`` is its name, e.g. ttyS).

    With ``console=ttyS0`` on a SiFive UART the kernel boots silently after its early console:
    the run would look like a hang, so it is an error before boot.
    """
    kernel = board.image_files(variables).get("kernel")
    if kernel is None or not kernel.is_file() or not is_linux_image(kernel):
        return []
    consoles = [word.split("=", 1)[1].split(",")[0] for word in (append or "").split() if word.startswith("console=")]
    wanted = f"{uart}0"
    if wanted in consoles:
        return []
    named = f"console={' console='.join(consoles)}" if consoles else "no console="
    return [
        Finding(
            Level.ERROR,
            str(board.path),
            key,
            f"Linux kernel {kernel} gets {named} but this machine's UART is {wanted}: "
            f"its output after the early console would be lost; add console={wanted} to {key}",
        )
    ]
