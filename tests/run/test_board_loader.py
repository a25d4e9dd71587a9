"""Loading a board profile (harness/run/board_loader.py): defaults, paths anchored at the profile,
``--image`` and ``--set``, ``labgrid:PLACE``, each bad value one error, and the fallback's profile.

The same through ``hartbeat check``/``run`` (exit codes, which board ran) is in
tests/reliability/test_targets_and_fallback.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.board import FallbackExit
from harness.run.board_loader import load_board, load_fallback

PROCESS = f'target = "process"\ncommand = ["{sys.executable}", "-c", "pass"]\n'


def profile(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_a_bare_profile_gets_the_defaults(tmp_path: Path) -> None:
    board = load_board(str(profile(tmp_path, "rig", PROCESS)))
    assert (board.name, board.target, board.fallback, board.fallback_exit) == (
        "rig",
        "process",
        None,
        FallbackExit.VERDICT,
    )
    assert (board.newline, board.send_delay, board.prompt_retry, board.time_scale) == ("\r", 0.0, 0.0, 1.0)


def test_images_are_anchored_at_the_profile_and_command_line_images_at_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = profile(tmp_path / "boards", "rig", PROCESS + '[images]\nkernel = "out/Image"\ninitrd = "none"\n')
    assert load_board(str(path)).images == {"kernel": str(tmp_path / "boards" / "out" / "Image"), "initrd": "none"}
    monkeypatch.chdir(tmp_path)
    given = load_board(str(path), images=[("initrd", "build/initrd")])
    assert given.images["initrd"] == str(tmp_path / "build" / "initrd")
    with pytest.raises(
        ConfigError, match=r"^--image: dtb: board rig has no image slot 'dtb'; its slots: initrd, kernel$"
    ):
        load_board(str(path), images=[("dtb", "x.dtb")])
    with pytest.raises(ConfigError, match=r"^--image: kernel: no path given; write --image kernel=PATH"):
        load_board(str(path), images=[("kernel", " ")])


def test_set_overrides_are_validated_like_the_file(tmp_path: Path) -> None:
    path = profile(tmp_path, "rig", PROCESS)
    assert load_board(str(path), overrides=[("send_delay", '"5ms"')]).send_delay == 0.005
    with pytest.raises(ConfigError, match=r"rig.toml: send_delay: expected a finite duration of at most 1 s"):
        load_board(str(path), overrides=[("send_delay", '"2s"')])


def test_a_labgrid_place_needs_no_profile() -> None:
    board = load_board("labgrid:unmatched-3")
    assert (board.name, board.target, board.settings["labgrid"]) == ("unmatched-3", "labgrid", {"place": "unmatched-3"})


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("fallback = 3\n", "fallback", "expected a board name or false, got 3"),
        ('fallback_exit = "maybe"\n', "fallback_exit", "expected one of verdict, skip, got 'maybe'"),
        ("time_scale = 0\n", "time_scale", "expected a positive number, got 0.0"),
        ("time_scale = 5000\n", "time_scale", "expected a finite number of at most 1000"),
        ('colour = "red"\n', "colour", "unknown key"),
    ],
)
def test_a_bad_top_level_value_is_one_error(tmp_path: Path, extra: str, key: str, words: str) -> None:
    path = profile(tmp_path, "rig", extra + PROCESS)
    with pytest.raises(ConfigError) as error:
        load_board(str(path))
    assert str(error.value).startswith(f"{path}: {key}: ") and words in str(error.value)


def test_fallback_false_or_empty_is_none(tmp_path: Path) -> None:
    for value in ("false", '""'):
        assert load_board(str(profile(tmp_path, "rig", f"fallback = {value}\n" + PROCESS))).fallback is None


def test_the_fallback_gets_the_overrides_that_apply_to_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boards = tmp_path / "boards"
    profile(boards, "spare", PROCESS)
    monkeypatch.setenv("HARTBEAT_BOARDS", str(boards))
    serial = '[serial]\nport = "/dev/ttyUSB1"\n[power]\nbackend = "manual"\n'
    path = profile(boards, "main", f'target = "serial"\nfallback = "spare"\nfallback_exit = "skip"\n{serial}')
    board = load_board(str(path), overrides=[("time_scale", "3"), ("serial.port", '"/dev/ttyUSB2"')])
    assert board.fallback == "spare" and board.fallback_exit is FallbackExit.SKIP
    spare = load_fallback(board)
    assert spare.name == "spare" and spare.time_scale == 3.0 and "serial" not in spare.settings


def test_a_fallback_that_cannot_be_loaded_is_the_boards_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boards = tmp_path / "boards"
    monkeypatch.setenv("HARTBEAT_BOARDS", str(boards))
    path = profile(boards, "main", 'fallback = "nope"\n' + PROCESS)
    with pytest.raises(ConfigError, match=r"main.toml: fallback: no board of that name.*\(no board profile 'nope'\)"):
        load_fallback(load_board(str(path)))
    profile(boards, "broken", 'target = "process"\ncommand = "not a list"\n')
    path = profile(boards, "main", 'fallback = "broken"\n' + PROCESS)
    with pytest.raises(
        ConfigError, match=r"main.toml: fallback: fallback board broken: .*broken.toml: command: expected a list"
    ):
        load_fallback(load_board(str(path)))
    with pytest.raises(ConfigError, match="the board has no fallback"):
        load_fallback(load_board(str(profile(tmp_path, "alone", PROCESS))))
