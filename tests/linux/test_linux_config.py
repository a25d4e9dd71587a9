"""Plans name the images they boot; the pre-boot check knows each machine's Linux console."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.model.plan import load_plan, standard_fails
from harness.model.preboot_finding import Level
from harness.run.board_loader import load_board
from harness.targets import emulator, qemu


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def fake_linux_image(path: Path) -> Path:
    """64 bytes with the RISC-V Image magic: enough for the checks, which read the header only."""
    header = bytearray(64)
    header[0x38:0x3C] = b"RSC\x05"
    path.write_bytes(bytes(header))
    return path


def board_file(tmp_path: Path, target: str, machine: str, append: str) -> Path:
    kernel = fake_linux_image(tmp_path / "Image")
    return write(
        tmp_path / f"{target}-{machine}.toml",
        f"""
        name = "{target}-{machine}"
        target = "{target}"
        [images]
        bios = "none"
        kernel = "{kernel}"
        [{target}]
        machine = "{machine}"
        append = "{append}"
        """,
    )


@pytest.mark.parametrize(
    ("target", "machine", "append", "errors"),
    [
        ("qemu", "virt", "console=ttyS0 earlycon", 0),
        ("qemu", "sifive_u", "console=ttySIF0", 0),
        ("qemu", "sifive_u", "console=ttyS0", 1),
        ("qemu", "virt", "earlycon", 1),
        ("emulator", "unmatched", "console=ttySIF0,115200", 0),
        ("emulator", "unmatched", "console=ttyS0", 1),
        ("emulator", "virt", "console=ttySIF0", 1),
    ],
)
def test_console_must_name_the_machines_uart(
    tmp_path: Path, target: str, machine: str, append: str, errors: int
) -> None:
    board = load_board(str(board_file(tmp_path, target, machine, append)))
    module = qemu if target == "qemu" else emulator
    findings = [f for f in module.preflight(board, {"seed": "1"}) if "console=" in f.message]
    assert len(findings) == errors, findings
    if errors:
        uart = "ttySIF0" if machine != "virt" else "ttyS0"
        assert findings[0].level is Level.ERROR and f"console={uart}" in findings[0].message


def test_a_plan_fills_the_boards_image_slots_and_the_command_line_wins(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    plan = load_plan(
        write(
            tmp_path / "plans" / "boot.toml",
            """
            name = "boot"
            [images]
            kernel = "../linux/Image"
            initrd = "../linux/initramfs.cpio"
            dtb = "../linux/virt.dtb"
            [[milestone]]
            name = "up"
            expect = "up"
            """,
        )
    )
    assert plan.images["kernel"] == str((tmp_path / "linux" / "Image").resolve())
    board = load_board("qemu-virt")
    filled = board.with_plan_images(plan.images)
    assert filled.images["kernel"] == plan.images["kernel"]
    assert filled.images["initrd"] == plan.images["initrd"]
    assert filled.images["bios"] == board.images["bios"]
    # qemu-virt has no dtb slot: a plan cannot add one.
    assert "dtb" not in filled.images
    given = board.with_plan_images(plan.images, given=["kernel"])
    assert given.images["kernel"] == board.images["kernel"]


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("[   48.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [swapper/0:1]", "soft-lockup"),
        ("[   60.2] rcu: INFO: rcu_sched self-detected stall on CPU", "rcu-stall"),
        ("[   60.2] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:", "rcu-stall"),
        ("[    1.3] Unable to handle kernel paging request at virtual address 0000000000000008", "kernel-fault"),
        ("[    2.0] kernel BUG at mm/memory.c:1234!", "kernel-bug"),
    ],
)
def test_linux_watchdog_reports_are_default_fail_patterns(line: str, name: str) -> None:
    matches = [f for f in standard_fails() if f.regex.search(line)]
    assert [f.name for f in matches] == [name]
    reason = matches[0].regex.search(line)
    assert reason is not None and reason.group("reason")


def test_a_healthy_boot_line_is_no_watchdog_report() -> None:
    healthy = "[    0.1] rcu: Hierarchical RCU implementation.\n[    0.2] watchdog: initialized"
    assert not any(f.regex.search(healthy) for f in standard_fails())
