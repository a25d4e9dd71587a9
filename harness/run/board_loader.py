"""Loading a board profile: read it, apply the command line's overrides, validate every section.

Validation lives here, above the targets and the SSH settings, because it asks each of them
about its own section; :mod:`harness.model.board` below stays a plain description of a profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from harness.errors import ConfigError
from harness.model.board import Board, FallbackExit, apply_overrides, resolve
from harness.model.config import Section, anchor_image, load_toml
from harness.ssh.settings import validate as validate_ssh
from harness.targets import effective_time_scale, validate_target

# `--board labgrid:unmatched-*`: a labgrid place (or every place matching) without a profile file.
LABGRID_PREFIX = "labgrid:"

TOP_LEVEL_KEYS = {
    "name",
    "description",
    "target",
    "fallback",
    "fallback_exit",
    "newline",
    "send_delay",
    "prompt_retry",
    "time_scale",
    "images",
    "variables",
    "symbols",
}


# A target a thousand times slower than hardware is no target; a bigger factor is a typo.
MAX_TIME_SCALE = 1000.0
# A UART that needs more than a second per character is broken, not slow.
MAX_SEND_DELAY = 1.0


def _positive(root: Section, key: str) -> float:
    value = root.number(key, 1.0, limit=MAX_TIME_SCALE) or 0.0
    if value <= 0:
        raise root.error(key, f"expected a positive number, got {value!r}")
    return value


def _fallback(root: Section) -> str | None:
    """``fallback = "name"``, or ``false`` (and ``""``) for none."""
    value = root.raw("fallback")
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        raise root.error("fallback", f"expected a board name or false, got {value!r}")
    return value


def _fallback_exit(root: Section) -> FallbackExit:
    """``fallback_exit = "verdict"`` (the default) or ``"skip"``."""
    value = root.string("fallback_exit", FallbackExit.VERDICT.value) or FallbackExit.VERDICT.value
    choices = {choice.value: choice for choice in FallbackExit}
    if value not in choices:
        raise root.error("fallback_exit", f"expected one of {', '.join(choices)}, got {value!r}")
    return choices[value]


# Keys every profile has: a `--set` of one of these follows the run to its fallback board.
_GENERAL_OVERRIDES = {"time_scale", "send_delay", "newline", "prompt_retry", "variables"}


def load_fallback(board: Board, images: Iterable[tuple[str, str]] = ()) -> Board:
    """The board's ``fallback`` profile, with the ``--set`` overrides and ``--image`` slots given
    for the board: a ``--set time_scale=5`` applies to whichever board runs.

    An override of a section the fallback does not have (``serial.port`` for a QEMU fallback)
    is the original board's own and is left out; an ``--image`` slot the fallback lacks is a
    :class:`ConfigError`, since the fallback would not boot the image asked for.
    """
    if board.fallback is None:
        raise ConfigError(board.path, "fallback", "the board has no fallback")
    try:
        path = resolve(board.fallback, "boards")
    except ConfigError as exc:
        raise ConfigError(board.path, "fallback", f"{exc.problem} (no board profile {board.fallback!r})") from None
    own = load_toml(path)
    overrides = [(k, v) for k, v in board.overrides if k.split(".")[0] in _GENERAL_OVERRIDES | set(own)]
    try:
        return load_board(str(path), overrides=overrides, images=images)
    except ConfigError as exc:
        raise ConfigError(board.path, "fallback", f"fallback board {board.fallback}: {exc}") from None


def load_board(
    name_or_path: str,
    *,
    overrides: Iterable[tuple[str, str]] = (),
    images: Iterable[tuple[str, str]] = (),
) -> Board:
    """Load, override and validate a board profile, including its target's own section.

    ``labgrid:PLACE`` (a place name or pattern) stands for a bare profile of a labgrid place.
    """
    if name_or_path.startswith(LABGRID_PREFIX):
        place = name_or_path[len(LABGRID_PREFIX) :]
        path = Path(name_or_path)
        document = {"name": place, "target": "labgrid", "labgrid": {"place": place}}
        document = apply_overrides(document, overrides)
    else:
        path = resolve(name_or_path, "boards")
        document = apply_overrides(load_toml(path), overrides)
    root = Section(document, path)
    target = root.string("target", required=True) or ""
    image_section = root.table("images")
    # A relative image path in a profile is relative to the profile's folder (it travels with
    # it); one given on the command line is relative to where the command runs.
    slots = {
        slot: anchor_image(image_section.string(slot, required=True) or "", path.parent) for slot in image_section.data
    }
    for slot, value in images:
        if not value.strip():
            raise ConfigError("--image", slot, f"no path given; write --image {slot}=PATH (or {slot}=none)")
        if slot not in slots:
            known = ", ".join(sorted(slots)) or "none"
            raise ConfigError("--image", slot, f"board {path.stem} has no image slot {slot!r}; its slots: {known}")
        slots[slot] = anchor_image(value, Path.cwd())
    variables = root.variables("variables")
    symbol_section = root.table("symbols")
    # Symbol files for the autopsy (an unstripped firmware, a vmlinux), relative as images are.
    symbols = {
        label: anchor_image(symbol_section.string(label, required=True) or "", path.parent)
        for label in symbol_section.data
    }
    board = Board(
        name=root.string("name", path.stem) or path.stem,
        path=path,
        target=target,
        description=root.string("description", ""),
        fallback=_fallback(root),
        fallback_exit=_fallback_exit(root),
        images=slots,
        variables=variables,
        symbols=symbols,
        newline=root.string("newline", "\r") or "\r",
        send_delay=root.duration("send_delay", 0.0, allow_zero=True, limit=MAX_SEND_DELAY),
        prompt_retry=root.duration("prompt_retry", 0.0, allow_zero=True),
        time_scale=_positive(root, "time_scale"),
        settings=document,
        overrides=tuple(overrides),
    )
    section_keys = validate_board(board)
    root.reject_unknown(TOP_LEVEL_KEYS | section_keys)
    # Deadlines, reports and replays all see the scale the run will really have.
    return replace(board, time_scale=effective_time_scale(board))


def validate_board(board: Board) -> set[str]:
    """Validate the target-specific part of a board and its ``[ssh]``/``[deploy]`` sections.

    Returns the top-level keys they use. SSH checks and deploys work on any target: a QEMU
    guest with a forwarded port is as good a place to run them as a board.
    """
    return validate_target(board) | validate_ssh(board)
