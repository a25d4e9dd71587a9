"""harness.emulator.dts: the generated tree compiles, and compiled trees are cached by their text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.emulator import dts
from harness.emulator.boards import BOARDS
from harness.emulator.dts import FDT_MAGIC, DtOptions, compile_dts, dtb_cache, render_dts

pytestmark = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")


def test_a_compiled_tree_is_taken_from_the_cache_next_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = render_dts(BOARDS["virt"], 1, DtOptions(256 << 20, "console=ttyS0"))
    other = render_dts(BOARDS["virt"], 2, DtOptions(256 << 20))
    dtb = compile_dts(source)
    assert dtb.startswith(FDT_MAGIC)
    (cached,) = Path(dtb_cache()).glob("*.dtb")
    assert cached.read_bytes() == source.encode() + b"\0" + dtb
    assert compile_dts(source) == dtb
    # What the cache holds is what the next start-up gets (no dtc run): another tree there
    # comes back for this text.
    other_dtb = compile_dts(other)
    assert other_dtb != dtb
    cached.write_bytes(source.encode() + b"\0" + other_dtb)
    assert compile_dts(source) == other_dtb
    # A file for other text under this name (a CRC collision), or holding no device tree, is
    # compiled again and replaced.
    for wrong in (other.encode() + b"\0" + other_dtb, source.encode() + b"\0not a tree"):
        cached.write_bytes(wrong)
        assert compile_dts(source) == dtb
        assert cached.read_bytes() == source.encode() + b"\0" + dtb
    assert len(list(Path(dtb_cache()).iterdir())) == 2


def test_an_unwritable_cache_costs_only_the_dtc_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    source = render_dts(BOARDS["virt"], 1, DtOptions(256 << 20))
    assert compile_dts(source).startswith(FDT_MAGIC)


def test_dtc_rejecting_the_source_is_a_dtc_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(dts.DtcError, match="dtc failed"):
        compile_dts("/dts-v1/;\n/ { broken")
    assert not list(tmp_path.rglob("*.dtb"))


@pytest.mark.parametrize("machine", ["virt", "unmatched"])
def test_the_harts_come_first_as_in_the_board_s_own_tree(machine: str) -> None:
    # OpenSBI scans the tree from its start for every interrupt parent (see render_dts): the
    # nodes ahead of the harts are paid for at each lookup, as few as on the Unmatched's own DTB.
    source = render_dts(BOARDS[machine], 5 if machine == "unmatched" else 1, DtOptions(256 << 20, "console=x"))
    top = [
        line[1:-2] for line in source.splitlines() if line.startswith("\t") and line[1] != "\t" and line.endswith(" {")
    ]
    assert top[:4] == ["chosen", "aliases", "cpus", "soc"], top
    assert "memory@80000000" in top[4:]
