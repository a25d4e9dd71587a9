"""Checks before boot: everything that can be known wrong without powering anything on.

``hartbeat check`` prints every finding; ``hartbeat run`` refuses to start on an error. Each
finding is one line naming the file, the key and the fix.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import fdt

from harness.board import Board
from harness.errors import ConfigError
from harness.plan import Plan
from harness.targets import KINDS


@dataclass(frozen=True)
class Finding:
    """One problem found before boot; ``error`` stops a run, ``warning`` does not."""

    level: str
    source: str
    key: str
    message: str
    unavailable: bool = False

    def __str__(self) -> str:
        where = f"{self.source}: {self.key}" if self.key else self.source
        return f"{self.level}: {where}: {self.message}"


def check_images(board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Every image slot names a readable file."""
    findings = []
    for slot, path in board.image_files(variables).items():
        if not path.exists():
            findings.append(
                Finding(
                    "error",
                    str(board.path),
                    f"images.{slot}",
                    f"{path} does not exist; build it or pass --image {slot}=PATH",
                    unavailable=True,
                )
            )
        elif not path.is_file() or not os.access(path, os.R_OK):
            findings.append(Finding("error", str(board.path), f"images.{slot}", f"{path} is not a readable file"))
    return findings


def check_plan_against_board(plan: Plan, board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """Variables used by the plan exist on the board; SSH steps have an [ssh] section."""
    findings = []
    for index, milestone in enumerate(plan.milestones):
        for key, text in (("send", milestone.send), ("keys", milestone.keys)):
            if text is None:
                continue
            try:
                board.expand(text, f"milestone[{index}].{key}", variables)
            except ConfigError as exc:
                findings.append(Finding("error", str(plan.path), f"milestone[{index}].{key}", exc.problem))
        if milestone.ssh is not None and "ssh" not in board.settings:
            findings.append(
                Finding(
                    "error",
                    str(plan.path),
                    f"milestone[{index}].ssh",
                    f"board {board.name} has no [ssh] section to run `{milestone.ssh}` with",
                )
            )
    return findings


def preboot_findings(plan: Plan, board: Board, variables: Mapping[str, str]) -> list[Finding]:
    """All findings: images, plan/board agreement, and the target's own checks."""
    findings = check_images(board, variables)
    findings += check_plan_against_board(plan, board, variables)
    module = importlib.import_module(KINDS[board.target])
    target_checks = getattr(module, "preflight", None)
    if target_checks is not None:
        findings += target_checks(board, variables)
    return findings


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
            return [Finding("error", source, "images.dtb", f"{dtb} is not a valid device tree blob: {exc}")]
        if bootargs is None:
            bootargs, bootargs_from = from_dtb, f"/chosen/bootargs of {dtb}"
    if kernel is None or not kernel.is_file() or not is_linux_image(kernel):
        return findings
    words = (bootargs or "").split()
    root = next((w.split("=", 1)[1] for w in words if w.startswith("root=")), None)
    if has_disk and initrd is None and root is None:
        findings.append(
            Finding(
                "error",
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
                "warning",
                source,
                "qemu.append",
                f"both an initrd ({initrd}) and root={root}: the kernel will run the initrd's /init, which "
                "must mount the disk itself; drop one of them unless that is intended",
            )
        )
    return findings
