"""harness.model.sdcard: the pre-boot check reads the card's partition table as the boot chain would."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from harness.model import gpt
from harness.model.sdcard import RECORD, CardError, card_findings, recorded_files, spl_image
from harness.run.board_loader import load_board

SECTORS = 65536
SPL = gpt.Partition(1, gpt.PartitionType.SIFIVE_SPL.value, uuid.UUID(int=1), 34, 2081, "spl")
FIT = gpt.Partition(2, gpt.PartitionType.SIFIVE_UBOOT.value, uuid.UUID(int=2), 2082, 10273, "uboot")
BOOT = gpt.Partition(3, gpt.PartitionType.LINUX_FS.value, uuid.UUID(int=3), 16384, 65501, "boot", gpt.LEGACY_BOOTABLE)


def card_for(folder: Path, board: str) -> Path:
    """A whole card in ``folder`` whose record says it was built for ``board``."""
    (folder / RECORD).write_text(f"board {board}\nappend console=ttySIF0\n")
    return _card(folder / "card.img", [SPL, FIT, BOOT])


def _card(path: Path, parts: list[gpt.Partition]) -> Path:
    with path.open("wb") as out:
        out.truncate(SECTORS * gpt.SECTOR)
        gpt.write_table(out, SECTORS, parts, uuid.UUID(int=9))
    return path


def _findings(card: Path) -> list[str]:
    board = load_board("qemu-sifive-u-sd", images=(("sdcard", str(card)),))
    return [f"{f.level}: {f.key}: {f.message}" for f in card_findings(board, {})]


def test_a_whole_card_has_no_findings_and_gives_its_spl(tmp_path: Path) -> None:
    card = _card(tmp_path / "card.img", [SPL, FIT, BOOT])
    with card.open("r+b") as handle:
        handle.seek(SPL.offset)
        handle.write(b"SPL!")
    assert _findings(card) == []
    assert spl_image(card, tmp_path / "spl.bin").read_bytes()[:4] == b"SPL!"


def test_what_the_chain_would_miss_is_named(tmp_path: Path) -> None:
    moved = gpt.Partition(2, FIT.type_guid, FIT.guid, 4096, 12287, "uboot")
    flat = gpt.Partition(3, BOOT.type_guid, BOOT.guid, 16384, 65501, "boot")
    found = _findings(_card(tmp_path / "card.img", [moved, flat]))
    assert len(found) == 3, found
    assert found[0].startswith("error: images.sdcard: ") and "has no SPL partition" in found[0]
    assert "its U-Boot partition at sector 4096" in found[1] and "raw sector 0x822" in found[1]
    assert found[2].startswith("warning:") and "no legacy-bootable partition" in found[2]
    with pytest.raises(CardError, match="has no SPL partition"):
        spl_image(tmp_path / "card.img", tmp_path / "spl.bin")


def test_a_card_without_a_partition_table(tmp_path: Path) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(bytes(SECTORS * gpt.SECTOR))
    (finding,) = _findings(blank)
    assert finding.startswith("error: images.sdcard: ") and "no valid GUID partition table" in finding


def test_a_card_s_record_names_the_files_it_was_built_from(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "abc"
    folder.mkdir(parents=True)
    (folder / "sdcard.img").write_bytes(b"\0")
    (folder / RECORD).write_text(
        "board unmatched\nappend console=ttySIF0 mem=4G\nkernel /k/Image\ninitrd /k/initramfs.cpio\nfit /f/u-boot.itb\n"
    )
    # The card reached through a link (images/sdcard/out/<board>.img): its record is beside the file.
    (tmp_path / "unmatched.img").symlink_to(folder / "sdcard.img")
    files = recorded_files(tmp_path / "unmatched.img")
    assert files == {"kernel": Path("/k/Image"), "initrd": Path("/k/initramfs.cpio"), "fit": Path("/f/u-boot.itb")}
    # A card from elsewhere has no record, nor one beside another tool's file of that name.
    (tmp_path / "other.img").write_bytes(b"\0")
    assert recorded_files(tmp_path / "other.img") == {}
    (tmp_path / RECORD).write_text("kernel 0123abcd\n")
    assert recorded_files(tmp_path / "other.img") == {}


def test_a_card_built_for_the_other_board_is_refused_by_the_machine_it_would_not_boot(tmp_path: Path) -> None:
    card = card_for(tmp_path, "unmatched")
    # QEMU's sifive_u is the Unleashed's FU540: the Unmatched's SPL would not bring up its DDR.
    (finding,) = _findings(card)
    assert finding.startswith("error: images.sdcard: ") and "was built for the unmatched" in finding
    assert "machine sifive_u,msel=11, which is the unleashed" in finding and "--board unleashed" in finding
    # The emulator's FU740 boots it; a real board (no machine to compare) is not judged.
    for name in ("emulator-unmatched-sd", "unmatched"):
        board = load_board(name, images=(("sdcard", str(card)),))
        assert card_findings(board, {}) == [], name
