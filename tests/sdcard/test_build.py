"""images/sdcard/build.py: the SiFive card layout, built without root, cached by its inputs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.autopsy.model import Privilege
from harness.autopsy.symbols import Symbols, run_sources
from harness.model import gpt
from harness.model.board import resolve
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.setup import prepare
from tests.card_fixtures import CardInputs, build_card


def _file_in_boot(card: Path, part: gpt.Partition, name: str, tmp_path: Path) -> bytes:
    """A file of the card's ext4 boot partition, read with debugfs (no mount, no root)."""
    fs = tmp_path / "boot.ext4"
    with card.open("rb") as src, fs.open("wb") as dst:
        src.seek(part.offset)
        dst.write(src.read(part.size))
    out = subprocess.run(["debugfs", "-R", f"cat {name}", str(fs)], capture_output=True, check=True)
    return out.stdout


def test_card_has_the_sifive_layout(card_inputs: CardInputs, tmp_path: Path) -> None:
    proc = build_card(*card_inputs.args(), cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    card = Path(proc.stdout.strip())
    size = card.stat().st_size
    assert size & (size - 1) == 0, "QEMU takes only power-of-two SD cards"
    spl, fit, boot = gpt.read_table(card)
    assert (spl.kind, spl.first, spl.last) == (gpt.PartitionType.SIFIVE_SPL, 34, 2081)
    assert (fit.kind, fit.first, fit.last) == (gpt.PartitionType.SIFIVE_UBOOT, 2082, 10273)
    assert boot.kind is gpt.PartitionType.LINUX_FS and boot.attributes & gpt.LEGACY_BOOTABLE
    raw = card.read_bytes()
    for part, name in ((spl, "u-boot-spl.bin"), (fit, "u-boot.itb")):
        data = (card_inputs.firmware / "unleashed" / name).read_bytes()
        assert raw[part.offset : part.offset + len(data)] == data
    conf = _file_in_boot(card, boot, "/extlinux/extlinux.conf", tmp_path).decode()
    assert "kernel /Image" in conf and "initrd /initrd" in conf and "fdt /unleashed.dtb" in conf
    assert "append console=ttySIF0,115200 earlycon" in conf
    assert (
        _file_in_boot(card, boot, "/unleashed.dtb", tmp_path)
        == (card_inputs.dtbs / "hifive-unleashed-a00.dtb").read_bytes()
    )


def test_same_inputs_are_a_cache_hit_and_another_input_a_new_card(card_inputs: CardInputs, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_card(*card_inputs.args(), cache=cache)
    started = time.monotonic()
    again = build_card(*card_inputs.args(), cache=cache)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert time.monotonic() - started < 20  # a hit hashes the inputs; it builds nothing
    other = build_card(*card_inputs.args(append="console=ttySIF0 quiet"), cache=cache)
    assert other.returncode == 0 and other.stdout != first.stdout
    assert len(list((cache / "hartbeat" / "sdcard").glob("[0-9a-f]*"))) == 2


def test_a_card_without_spl_partition_on_request(card_inputs: CardInputs, tmp_path: Path) -> None:
    proc = build_card(*card_inputs.args(spl="none"), cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    kinds = [part.kind for part in gpt.read_table(Path(proc.stdout.strip()))]
    assert kinds == [gpt.PartitionType.SIFIVE_UBOOT, gpt.PartitionType.LINUX_FS]


def test_unmatched_card_takes_the_unmatched_firmware(card_inputs: CardInputs, tmp_path: Path) -> None:
    proc = build_card(*card_inputs.args("unmatched"), cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    card = Path(proc.stdout.strip())
    fit = gpt.read_table(card)[1]
    data = (card_inputs.firmware / "unmatched" / "u-boot.itb").read_bytes()
    assert card.read_bytes()[fit.offset : fit.offset + len(data)] == data


def test_bad_inputs_are_one_line_errors(card_inputs: CardInputs, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    foreign = build_card(*card_inputs.args(dtb=str(card_inputs.dtbs / "hifive-unmatched-a00.dtb")), cache=cache)
    assert foreign.returncode == 1
    assert foreign.stderr.count("\n") == 1 and "Traceback" not in foreign.stderr
    assert "hifive-unmatched-a00.dtb: compatible is" in foreign.stderr
    assert "not 'sifive,hifive-unleashed-a00'" in foreign.stderr
    missing = build_card(*card_inputs.args(kernel=str(tmp_path / "nope")), cache=cache)
    assert missing.returncode == 1 and missing.stderr.strip().endswith(
        "--kernel " + str(tmp_path / "nope") + ": no such file"
    )
    allowed = build_card(
        *card_inputs.args(dtb=str(card_inputs.dtbs / "hifive-unmatched-a00.dtb")), "--allow-foreign-dtb", cache=cache
    )
    assert allowed.returncode == 0, allowed.stderr


def test_a_run_on_the_card_names_its_kernel_s_functions(card_inputs: CardInputs, tmp_path: Path) -> None:
    # The card's record says which kernel went on it; the autopsy then reads the vmlinux built
    # beside that kernel, as for a kernel in an image slot of its own.
    proc = build_card(*card_inputs.args("unmatched"), cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    card = Path(proc.stdout.strip())
    images = (("sdcard", str(card)),)
    setup = prepare(
        load_plan(resolve("unmatched-boot", "testplans")), load_board("emulator-unmatched-sd", images=images)
    )
    sources = run_sources(setup.symbol_images(), [])
    assert [(s.label, s.path) for s in sources] == [("sdcard:kernel", card_inputs.kernel.parent / "vmlinux")]
    symbols = Symbols(sources)
    symbols.load()
    line = next(
        line
        for line in (card_inputs.kernel.parent / "System.map").read_text().splitlines()
        if line.endswith(" memmap_init_range")
    )
    where = symbols.locate(int(line.split()[0], 16) + 4, Privilege.S)
    assert where is not None and (where.function, where.offset) == ("memmap_init_range", 4)
