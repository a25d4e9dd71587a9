"""Checks before boot: the DTB/root= agreement of the project's seed, machine names, images."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.preboot_check import check_deadlines, preboot_findings
from harness.run.setup import prepare
from harness.targets.linux_boot import check_boot_arguments, dtb_bootargs, is_linux_image

pytestmark = pytest.mark.skipif(shutil.which("dtc") is None, reason="needs dtc (device-tree-compiler, make deps)")


def linux_image(path: Path) -> Path:
    """A file with a RISC-V Linux Image header (what QEMU -kernel and booti recognise)."""
    header = bytearray(64)
    struct.pack_into("<8s", header, 0x30, b"RISCV\0\0\0")
    struct.pack_into("<4s", header, 0x38, b"RSC\x05")
    path.write_bytes(bytes(header) + b"\0" * 4096)
    return path


def dtb(path: Path, bootargs: str | None) -> Path:
    chosen = f'chosen {{ bootargs = "{bootargs}"; }};' if bootargs is not None else "chosen { };"
    source = f"/dts-v1/;\n/ {{ #address-cells = <2>; #size-cells = <2>; {chosen} }};\n"
    subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", str(path)], input=source.encode(), check=True)
    return path


def board(
    tmp_path: Path,
    *,
    append: str | None = None,
    drive: bool = True,
    initrd: bool = False,
    bootargs: str | None = "console=ttyS0 earlycon",
) -> Path:
    kernel = linux_image(tmp_path / "Image")
    blob = dtb(tmp_path / "board.dtb", bootargs)
    lines = ['name = "linux"', 'target = "qemu"', "[images]", f'kernel = "{kernel}"', f'dtb = "{blob}"']
    if initrd:
        (tmp_path / "initrd.img").write_bytes(b"\0" * 512)
        lines.append(f'initrd = "{tmp_path / "initrd.img"}"')
    lines += ["[qemu]", 'machine = "virt"']
    if append is not None:
        lines.append(f'append = "{append}"')
    if drive:
        lines.append(f'drives = ["file={tmp_path / "disk.img"},format=raw,if=virtio"]')
    path = tmp_path / "linux.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def findings(path: Path) -> list[str]:
    loaded = load_board(str(path))
    append = loaded.settings.get("qemu", {}).get("append")
    return [
        str(f) for f in check_boot_arguments(loaded, {}, append=append, has_disk="drives" in loaded.settings["qemu"])
    ]


def test_image_header_and_dtb_are_read(tmp_path: Path) -> None:
    assert is_linux_image(linux_image(tmp_path / "Image"))
    assert not is_linux_image(Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"))
    assert dtb_bootargs(dtb(tmp_path / "a.dtb", "root=/dev/vda rw")) == "root=/dev/vda rw"
    assert dtb_bootargs(dtb(tmp_path / "b.dtb", None)) is None


def test_disk_without_root_is_the_seed_error(tmp_path: Path) -> None:
    found = findings(board(tmp_path))
    assert len(found) == 1
    assert found[0].startswith("error: ")
    assert "linux.toml: qemu.append:" in found[0]
    assert "no root=" in found[0] and "VFS: Cannot open root device" in found[0]
    assert "/chosen/bootargs of" in found[0]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"append": "root=/dev/vda rw console=ttyS0"}, []),
        ({"bootargs": "root=/dev/vda2 console=ttyS0"}, []),
        ({"drive": False}, []),
        ({"initrd": True}, []),
        ({"initrd": True, "append": "root=/dev/vda"}, ["warning: "]),
    ],
    ids=["root-in-append", "root-in-dtb", "no-disk", "initrd", "initrd-and-vda"],
)
def test_agreeing_combinations(tmp_path: Path, options: dict, expected: list[str]) -> None:
    found = findings(board(tmp_path, **options))
    assert [f[: len(e)] for f, e in zip(found, expected, strict=False)] == expected
    assert len(found) == len(expected)


def test_check_command_reports_findings_and_unknown_machine(tmp_path: Path) -> None:
    path = board(tmp_path)
    text = path.read_text().replace('machine = "virt"', 'machine = "unmatched-a00"')
    path.write_text(text)
    plan = tmp_path / "plan.toml"
    plan.write_text('[[milestone]]\nname = "a"\nexpect = "Linux version"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(plan), "--board", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "qemu.machine: qemu-system-riscv64 does not know machine 'unmatched-a00'" in proc.stdout
    assert "no root=" in proc.stdout
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(plan), "--board", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "not starting: 2 error(s) found before boot" in run.stderr


def test_a_missing_plan_image_names_the_plan(tmp_path: Path) -> None:
    """A slot the plan's [images] filled is the plan's to fix, not the board's (linux-boot before make linux-image)."""
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text('[images]\nkernel = "out/Image"\n[[milestone]]\nname = "a"\nexpect = "Linux version"\n')
    plan = load_plan(plan_path)
    loaded = prepare(plan, load_board(str(board(tmp_path, append="root=/dev/vda"))))
    found = [str(f) for f in preboot_findings(loaded) if "images." in str(f)]
    missing = tmp_path / "out" / "Image"
    assert found == [
        f"error: {plan_path}: images.kernel: {missing} does not exist; build it or pass --image kernel=PATH"
    ]
    # `--image kernel=...`: the slot given on the command line is not the plan's to fill.
    given = prepare(plan, load_board(str(board(tmp_path, append="root=/dev/vda"))), images=[("kernel", "Image")])
    assert [f for f in preboot_findings(given) if "images." in str(f)] == []


def test_a_deadline_shorter_than_the_silence_is_a_warning_and_no_shipped_plan_has_one(tmp_path: Path) -> None:
    # Issue 24, item 1: the README's unmatched-linux plan (silence 30 s, `spl` within 20 s)
    # cannot tell a wedge from a stall in its first step.
    plan = tmp_path / "unmatched-linux.toml"
    plan.write_text(
        'name = "unmatched-linux"\nsilence = "30s"\n[[milestone]]\nname = "spl"\nexpect = "U-Boot SPL"\n'
        'within = "20s"\n[[milestone]]\nname = "login"\nexpect = "login: $"\nwithin = "3m"\n'
    )
    warnings = [str(f) for f in check_deadlines(load_plan(plan))]
    assert len(warnings) == 1 and "milestone[0].within" in warnings[0], warnings
    assert "less than its 30 s silence limit" in warnings[0] and "cannot tell a wedge from a stall" in warnings[0]
    for shipped in sorted((Path(__file__).parents[2] / "testplans").glob("*.toml")):
        assert check_deadlines(load_plan(shipped)) == [], shipped
