"""harness.run.setup: a run's board, images, variables and scaled plan, computed once."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.board import Board, FallbackExit
from harness.model.plan import Milestone, Plan, standard_fails
from harness.records.run_folder import RecordedRun
from harness.run.board_loader import load_board
from harness.run.setup import DEFAULT_OFF_COMMAND, MissingImage, prepare, recorded


def _plan(**fields: object) -> Plan:
    plan = Plan(
        name="setup-plan",
        path=Path("setup-plan.toml"),
        description="",
        silence=2.0,
        timeout=100.0,
        milestones=(
            Milestone(name="boot", expect=re.compile("OpenSBI"), within=10.0),
            Milestone(name="shell", expect=re.compile("# $"), within=20.0, silence=4.0),
        ),
        fails=standard_fails(),
        resets=(),
    )
    return dataclasses.replace(plan, **fields)  # type: ignore[arg-type]


def _board(**fields: object) -> Board:
    return Board(name="b", path=Path("b.toml"), target="fake", **fields)  # type: ignore[arg-type]


def test_the_plan_is_scaled_once_by_the_board_that_runs_and_kept_as_written() -> None:
    plan = _plan()
    setup = prepare(plan, _board(time_scale=5.0))
    assert setup.plan is plan and setup.time_scale == 5.0
    scaled = setup.scaled_plan
    assert (scaled.silence, scaled.timeout) == (10.0, 500.0)
    assert [(m.within, m.silence) for m in scaled.milestones] == [(50.0, None), (100.0, 20.0)]
    assert {f.after for f in scaled.fails} == {f.after * 5 for f in plan.fails}
    # A Python test's own milestone is scaled alike, and a time measured goes back to plan seconds.
    own = setup.scaled(Milestone(name="x", expect=None, within=3.0, silence=1.5))
    assert (own.within, own.silence) == (15.0, 7.5)
    assert setup.plan_seconds(50.0) == 10.0
    assert prepare(plan, _board()).scaled_plan is plan  # time_scale 1: nothing to scale


def test_the_plan_fills_the_board_slots_it_names_except_those_given_on_the_command_line() -> None:
    plan = _plan(images={"kernel": "plan/Image", "initrd": "plan/initrd", "nosuch": "x"})
    board = _board(images={"bios": "fw.bin", "kernel": "board/Image", "initrd": "board/initrd"})
    setup = prepare(plan, board, images=[("initrd", "given/initrd")])
    # The `--image` value is load_board's to put in; the setup only keeps the plan out of it.
    assert setup.board.images == {"bios": "fw.bin", "kernel": "plan/Image", "initrd": "board/initrd"}
    assert setup.images == (("initrd", "given/initrd"),)


def test_variables_are_plan_defaults_under_the_board_under_the_caller_with_one_seed() -> None:
    plan = _plan(variables={"a": "plan", "b": "plan", "c": "plan"})
    board = _board(variables={"b": "board"})
    setup = prepare(plan, board, variables={"c": "given"})
    assert {k: setup.variables[k] for k in "ac"} == {"a": "plan", "c": "given"}
    # The board's own value is not a run variable: Board.expand reads it under them.
    assert "b" not in setup.variables and setup.expand("{a}-{b}-{c}", "k") == "plan-board-given"
    assert re.fullmatch(r"\d+", setup.variables["seed"]) and setup.given["seed"] == setup.variables["seed"]
    assert prepare(plan, board, variables={"seed": "7"}).variables["seed"] == "7"
    with pytest.raises(ConfigError, match=r"b.toml: k: unknown variable \{d\}"):
        setup.expand("{d}", "k")


def test_a_setup_is_frozen_and_its_variables_read_only() -> None:
    setup = prepare(_plan(), _board())
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.board = _board(time_scale=2.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        setup.variables["seed"] = "1"  # type: ignore[index]


def _profiles(tmp_path: Path) -> Path:
    (tmp_path / "spare.toml").write_text(
        'name = "spare"\ntarget = "process"\ncommand = ["true"]\ntime_scale = 3\n'
        '[images]\nkernel = "spare/Image"\nfw = "spare/fw.bin"\n',
        encoding="utf-8",
    )
    asked = tmp_path / "asked.toml"
    asked.write_text(
        'name = "asked"\ntarget = "process"\ncommand = ["true"]\ntime_scale = 2\n'
        'fallback = "spare"\nfallback_exit = "skip"\n'
        '[images]\nkernel = "asked/Image"\nfw = "asked/fw.bin"\n',
        encoding="utf-8",
    )
    return asked


def test_the_fallback_is_set_up_from_its_profile_with_the_same_plan_seed_images_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARTBEAT_BOARDS", str(tmp_path))
    plan = _plan(images={"kernel": "plan/Image"})
    given_fw = str(tmp_path / "given-fw.bin")
    board = load_board(str(_profiles(tmp_path)), overrides=[("send_delay", "1ms")], images=[("fw", given_fw)])
    setup = prepare(plan, board, variables={"x": "1"}, images=[("fw", given_fw)])
    assert setup.fallback is None and setup.fallback_exit is FallbackExit.SKIP
    assert setup.time_scale == 2.0 and setup.scaled_plan.timeout == 200.0

    fell = setup.fallen_back("/dev/ttyUSB1 missing")
    assert fell.board.name == "spare" and fell.plan is plan
    assert fell.fallback is not None
    assert (fell.fallback.asked, fell.fallback.why, fell.fallback.ran_on) == ("asked", "/dev/ttyUSB1 missing", "spare")
    assert fell.fallback.note == "asked unavailable (/dev/ttyUSB1 missing); ran on fallback board spare"
    # The asked-for board's fallback_exit decides what a pass on the fallback exits with.
    assert fell.fallback_exit is FallbackExit.SKIP
    # The plan fills the fallback's slot, the command line's image and `--set` follow the run.
    assert fell.board.images["kernel"] == "plan/Image" and fell.board.images["fw"] == given_fw
    assert fell.board.send_delay == 0.001
    assert fell.variables == setup.variables  # the same seed: the same run, on another board
    # Scaled by the fallback's time_scale, from the plan as written (not scaled twice).
    assert fell.time_scale == 3.0 and fell.scaled_plan.timeout == 300.0
    with pytest.raises(ConfigError, match="no fallback"):
        fell.fallen_back("again")
    with pytest.raises(ConfigError, match="no fallback"):
        prepare(plan, _board()).fallen_back("why")


def test_missing_image_files_are_a_missing_image_naming_the_slot(tmp_path: Path) -> None:
    (tmp_path / "fw.bin").write_bytes(b"\0")
    board = _board(images={"fw": str(tmp_path / "fw.bin"), "kernel": "{dir}/Image", "dtb": "none"})
    setup = prepare(_plan(), board, variables={"dir": str(tmp_path)})
    assert setup.image_files() == {"fw": tmp_path / "fw.bin", "kernel": tmp_path / "Image"}
    with pytest.raises(MissingImage, match=f"image slot 'kernel': {tmp_path / 'Image'} does not exist"):
        setup.check_images()
    (tmp_path / "Image").write_bytes(b"\0")
    setup.check_images()


def test_a_card_slot_brings_the_kernel_its_record_names_for_the_autopsy(tmp_path: Path) -> None:
    (tmp_path / "sdcard.img").write_bytes(b"\0")
    (tmp_path / "inputs.txt").write_text(f"board unmatched\nkernel {tmp_path}/k/Image\n")
    board = _board(images={"sdcard": str(tmp_path / "sdcard.img"), "bios": "none"})
    setup = prepare(_plan(), board)
    assert setup.symbol_images() == {"sdcard": tmp_path / "sdcard.img", "sdcard:kernel": tmp_path / "k" / "Image"}
    # What the run boots is unchanged: the card.
    assert setup.image_files() == {"sdcard": tmp_path / "sdcard.img"}
    (tmp_path / "inputs.txt").unlink()
    assert setup.symbol_images() == {"sdcard": tmp_path / "sdcard.img"}


@pytest.mark.parametrize(
    ("target", "variables", "switched_off", "typed"),
    [
        ("fake", {}, None, DEFAULT_OFF_COMMAND),
        ("fake", {"off_command": "halt"}, None, "halt"),
        ("fake", {"off_command": ""}, None, None),  # empty: hartbeat switches it off
        ("serial", {"off_command": "halt"}, None, None),  # a bench board cannot power itself off
        ("fake", {"off_command": "halt"}, True, None),  # a replay of a run that switched it off
        ("serial", {}, False, DEFAULT_OFF_COMMAND),
    ],
)
def test_what_an_off_step_types(
    target: str, variables: dict[str, str], switched_off: bool | None, typed: str | None
) -> None:
    board = Board(name="b", path=Path("b.toml"), target=target, variables=variables)
    assert prepare(_plan(), board, switched_off=switched_off).off_command() == typed


def test_symbol_files_come_from_board_plan_and_command_line_with_a_note_for_a_bad_one() -> None:
    board = _board(symbols={"bios": "{dir}/fw.elf"}, variables={"dir": "/b"})
    plan = _plan(symbols={"kernel": "{nosuch}/vmlinux"})
    setup = prepare(plan, board, symbols=[("extra", "/c/extra.elf")])
    notes: list[str] = []
    assert setup.symbol_files(notes) == [("bios", Path("/b/fw.elf")), ("extra", Path("/c/extra.elf"))]
    assert len(notes) == 1 and notes[0].startswith("symbols kernel: ") and "{nosuch}" in notes[0]


def test_a_recorded_run_is_set_up_on_its_recorded_board_and_scale(tmp_path: Path) -> None:
    report = {"board": {"name": "emulator-virt", "path": "boards/emulator-virt.toml", "time_scale": 25.0}}
    setup = recorded(RecordedRun(tmp_path, report, ()), _plan(), switched_off=True)
    assert (setup.board.name, setup.board.path, setup.board.target) == (
        "emulator-virt",
        Path("boards/emulator-virt.toml"),
        "replay",
    )
    assert setup.scaled_plan.timeout == 2500.0 and setup.plan_seconds(25.0) == 1.0
    assert setup.off_command() is None
    # A report from before time_scale was recorded is judged against the plan file's limits.
    old = recorded(RecordedRun(tmp_path, {"board": {"name": "old"}}, ()), _plan())
    assert old.time_scale == 1.0 and old.board.path == Path("recorded")
