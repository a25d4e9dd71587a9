"""A board profile as data (harness/model/board.py): ``{name}`` expansion, image files, a plan's images,
names found on the search path, ``--set`` and ``KEY=VALUE`` flags.

Reading and checking a board file through the target and power registries is run/board_loader.py's
(tests/run/test_board_loader.py).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.board import Board, apply_overrides, parse_assignments, resolve, search_path

BOARD = Board(
    name="b",
    path=Path("/lab/b.toml"),
    target="qemu",
    images={"kernel": "/builds/{build}/Image", "initrd": "none", "dtb": ""},
    variables={"build": "r1", "console": "ttySIF0"},
)


def test_variables_slots_and_extras_expand_with_literal_braces() -> None:
    assert BOARD.expand("console={console}", "k") == "console=ttySIF0"
    assert BOARD.expand("{kernel}", "k") == "/builds/{build}/Image"  # a slot's text, expanded once
    assert BOARD.expand("{build}", "k", {"build": "r2"}) == "r2"  # the run's values win
    assert BOARD.expand("setenv x $${y}; {{not a var}}", "k") == "setenv x ${y}; {not a var}"


def test_an_unknown_variable_names_the_key_and_what_is_known() -> None:
    with pytest.raises(ConfigError) as error:
        BOARD.expand("{nope}", "qemu.append")
    assert str(error.value) == (
        "/lab/b.toml: qemu.append: unknown variable {nope}; known: build, console, dtb, initrd, kernel"
    )


def test_quote_applies_to_each_value_only() -> None:
    board = Board(name="b", path=Path("b.toml"), target="process", variables={"v": "x;touch PWNED"})
    assert board.expand("echo {v} done", "k", quote=shlex.quote) == "echo 'x;touch PWNED' done"


def test_image_files_are_the_slots_that_name_files() -> None:
    assert BOARD.image_files({"build": "r7"}) == {"kernel": Path("/builds/r7/Image")}
    assert BOARD.image_files({"build": "r7"}, ["initrd"]) == {}


def test_a_plans_images_fill_the_boards_slots_but_not_the_command_lines() -> None:
    images = {"kernel": "/plan/Image", "initrd": "/plan/initrd", "bios": "/plan/fw.bin"}
    filled = BOARD.with_plan_images(images)
    assert dict(filled.images) == {"kernel": "/plan/Image", "initrd": "/plan/initrd", "dtb": ""}  # no bios slot
    given = BOARD.with_plan_images(images, ["kernel"])
    assert given.images["kernel"] == BOARD.images["kernel"] and given.images["initrd"] == "/plan/initrd"
    assert BOARD.with_plan_images({"bios": "x"}) is BOARD


def test_names_are_found_on_the_search_path_and_paths_are_taken_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "bench.toml").write_text('target = "fake"\n')
    monkeypatch.setenv("HARTBEAT_BOARDS", str(mine))
    assert search_path("boards")[0] == mine
    assert resolve("bench", "boards") == mine / "bench.toml"
    assert resolve(str(mine / "bench.toml"), "boards") == mine / "bench.toml"
    with pytest.raises(ConfigError, match=r"gone.toml: no such board file$"):
        resolve(str(tmp_path / "gone.toml"), "boards")
    with pytest.raises(ConfigError, match=r"^nosuch: no board of that name; available: .*bench"):
        resolve("nosuch", "boards")
    with pytest.raises(ConfigError, match="no testplan of that name"):
        resolve("x" * 5000, "testplans")  # too long for a file name: no traceback


def test_assignments_split_on_the_first_equals() -> None:
    assert parse_assignments(["a=1", " b =x=y", "c="], "--var") == [("a", "1"), ("b", "x=y"), ("c", "")]
    for bad in ("novalue", "=x"):
        with pytest.raises(ConfigError, match=f"^--var: {bad}: expected KEY=VALUE$"):
            parse_assignments([bad], "--var")


def test_overrides_set_dotted_keys_as_toml_values_on_a_copy() -> None:
    document = {"name": "b", "qemu": {"smp": 1, "machine": "virt"}}
    result = apply_overrides(document, [("qemu.smp", "4"), ("qemu.append", "root=/dev/vda"), ("ssh.port", "[22]")])
    assert result == {
        "name": "b",
        "qemu": {"smp": 4, "machine": "virt", "append": "root=/dev/vda"},
        "ssh": {"port": [22]},
    }
    assert document["qemu"] == {"smp": 1, "machine": "virt"}  # the board as read stays as it was
    with pytest.raises(ConfigError, match=r"^--set: name.x: 'name' is not a table$"):
        apply_overrides(document, [("name.x", "1")])
