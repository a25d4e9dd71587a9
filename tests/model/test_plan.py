"""``[autopsy]`` in a plan, ``[symbols]`` in a board and a plan: read, checked, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.preboot_check import check_symbols

PLAN = """
name = "p"
[[milestone]]
name = "banner"
expect = "x"
"""


def plan_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN + extra)
    return path


def test_the_defaults_and_a_plan_of_its_own(tmp_path: Path) -> None:
    default = load_plan(plan_with(tmp_path, "")).autopsy
    assert (default.enabled, default.samples, default.span, default.limit) == (True, 5, 0.5, 5.0)
    mine = load_plan(plan_with(tmp_path, "[autopsy]\nsamples = 3\nspan = 0.2\nlimit = 2\n")).autopsy
    assert (mine.samples, mine.span, mine.limit, mine.interval) == (3, 0.2, 2.0, 0.1)
    assert not load_plan(plan_with(tmp_path, "[autopsy]\nenabled = false\n")).autopsy.enabled


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ("samples = 0", "autopsy.samples", "expected 1 to 50 samples, got 0"),
        ("limit = 9", "autopsy.limit", "at most 5"),
        ("span = 5", "autopsy.span", "below the limit"),
        ("sample = 3", "autopsy.sample", "samples"),
    ],
)
def test_bad_values_name_the_file_and_the_key(tmp_path: Path, table: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_plan(plan_with(tmp_path, f"[autopsy]\n{table}\n"))
    assert key in str(caught.value) and words in str(caught.value) and "plan.toml" in str(caught.value)


def test_symbol_files_are_relative_to_their_file_and_checked_before_boot(tmp_path: Path) -> None:
    (tmp_path / "fw.elf").write_bytes(b"\x7fELF")
    board_path = tmp_path / "b.toml"
    board_path.write_text('target = "emulator"\n[symbols]\nbios = "fw.elf"\n[emulator]\nmachine = "virt"\n')
    board = load_board(str(board_path))
    assert board.symbols == {"bios": str(tmp_path / "fw.elf")}
    plan = load_plan(plan_with(tmp_path, '[symbols]\nkernel = "build/vmlinux"\n'))
    assert plan.symbols == {"kernel": str(tmp_path / "build" / "vmlinux")}
    findings = check_symbols(plan, board, {})
    assert [(f.level, f.key) for f in findings] == [("warning", "symbols.kernel")]
    assert "autopsy will not name addresses from it" in findings[0].message
