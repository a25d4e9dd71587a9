"""``hartbeat boards`` and ``hartbeat plans`` (harness/cli/lists.py): every profile found, the first
of a name winning, an invalid one shown as such instead of stopping the list."""

from __future__ import annotations

import tomllib
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


ROOT = Path(__file__).resolve().parents[2]


def shipped(kind: str) -> dict[str, dict[str, object]]:
    """The checkout's boards/ or testplans/, each file's TOML by its name."""
    return {path.stem: tomllib.loads(path.read_text()) for path in sorted((ROOT / kind).glob("*.toml"))}


@pytest.fixture
def only_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but the checkout on the search path: no $HARTBEAT_* folders, no ./boards here."""
    monkeypatch.delenv("HARTBEAT_BOARDS", raising=False)
    monkeypatch.delenv("HARTBEAT_TESTPLANS", raising=False)
    monkeypatch.chdir(tmp_path)


def test_boards_lists_every_shipped_profile_with_its_target(only_shipped: None, hartbeat) -> None:
    ran = hartbeat("boards")
    assert ran.code == 0 and ran.err == "", ran
    lines = ran.out.splitlines()
    boards = shipped("boards")
    assert [line.split()[0] for line in lines] == list(boards)
    for line, data in zip(lines, boards.values(), strict=True):
        assert line.split(maxsplit=2)[1] == data["target"], line
        assert "INVALID" not in line and line.endswith(str(data.get("description", ""))), line


def test_plans_lists_every_shipped_plan_with_its_milestone_count(only_shipped: None, hartbeat) -> None:
    ran = hartbeat("plans")
    assert ran.code == 0 and ran.err == "", ran
    plans = shipped("testplans")
    expected = [
        f"{name:24} {len(data['milestone']):2} milestones  {data['description']}" for name, data in plans.items()
    ]
    assert ran.out.splitlines() == expected


def test_help_and_a_bad_option(hartbeat) -> None:
    hartbeat("boards", "--help").help_lists("--coordinator [HOST:PORT]", "$LG_COORDINATOR")
    hartbeat("plans", "--help").help_lists("-h, --help")
    hartbeat("plans", "--all").refused("unrecognized arguments: --all")
