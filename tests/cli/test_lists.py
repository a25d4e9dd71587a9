"""``hartbeat boards`` and ``hartbeat plans`` (harness/cli/lists.py): every profile found, the first
of a name winning, an invalid one shown as such instead of stopping the list."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_boards_lists_each_name_once_from_the_search_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "qemu-virt.toml").write_text('target = "process"\ndescription = "my own qemu-virt"\ncommand = ["x"]\n')
    (mine / "broken.toml").write_text('target = "teleport"\n')
    monkeypatch.setenv("HARTBEAT_BOARDS", str(mine))
    assert main(["boards"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert len(names) == len(set(names)) and "emulator-unmatched" in names  # the shipped ones follow
    assert [line for line in lines if line.startswith("qemu-virt ")] == [f"{'qemu-virt':24} process   my own qemu-virt"]
    (broken,) = [line for line in lines if line.startswith("broken ")]
    assert "INVALID: " in broken and "unknown target 'teleport'" in broken


def test_plans_lists_the_milestone_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "plans"
    mine.mkdir()
    (mine / "two.toml").write_text(
        'description = "two steps"\n[[milestone]]\nname = "a"\nexpect = "a"\n[[milestone]]\nname = "b"\nexpect = "b"\n'
    )
    monkeypatch.setenv("HARTBEAT_TESTPLANS", str(mine))
    assert main(["plans"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{'two':24}  2 milestones  two steps"
    assert any(line.startswith("uboot-smoke ") for line in lines)
