"""A run set up once: the board that runs, its images and variables, and the plan scaled to it.

:func:`prepare` computes them from what the caller gives (a plan, a loaded board, ``--var``,
``--image``, ``--symbols``) and :meth:`RunSetup.fallen_back` from the board's fallback profile;
nothing else fills a board's image slots from a plan, draws the run's seed or applies the
board's ``time_scale``. The CLI checks a setup before boot, the runner runs it, the pytest
plugin, replay and calibrate read the same value, so they cannot disagree on what ran.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from harness.errors import ConfigError, TargetUnavailable
from harness.model import sdcard
from harness.model.board import Board, FallbackExit
from harness.model.plan import Milestone, Plan
from harness.records.run_folder import RecordedRun
from harness.run.board_loader import load_fallback
from harness.targets import KINDS, target_kind

# What a plan's `off` step types on a target that powers itself off, unless the board or the
# plan says otherwise (`off_command`); an empty one means hartbeat switches the target off.
DEFAULT_OFF_COMMAND = "poweroff"

Pairs = tuple[tuple[str, str], ...]


class MissingImage(TargetUnavailable):
    """An image slot names a file that is not there: the run is a skip, on no other board."""


def run_variables(plan: Plan, board: Board, given: Mapping[str, str]) -> dict[str, str]:
    """The variables a run expands ``{name}`` with.

    The plan's ``[variables]`` are defaults that the board's own ``[variables]`` override;
    values from the command line override both. ``seed`` is random per run unless given.
    """
    variables = {k: v for k, v in plan.variables.items() if k not in board.variables}
    variables.update(given)
    variables.setdefault("seed", str(random.randrange(1 << 31)))
    return variables


@dataclass(frozen=True)
class Fallback:
    """The board asked for could not be used (``why``); its fallback profile ``ran_on`` instead."""

    asked: str
    why: str
    ran_on: str

    @property
    def note(self) -> str:
        """The report's ``fallback`` line."""
        return f"{self.asked} unavailable ({self.why}); ran on fallback board {self.ran_on}"


@dataclass(frozen=True)
class RunSetup:
    """Everything a run is decided from before anything is powered on.

    ``plan`` is the plan as given and ``scaled_plan`` the one the run watches with: every limit
    multiplied by the board's ``time_scale``. ``board`` has the plan's ``[images]`` in the slots
    ``images`` (``--image``) left free; ``variables`` are the plan's, the board's and ``given``
    (the caller's, with the run's seed) together. ``fallback`` is set once the fallback board
    replaced the one asked for, whose ``fallback_exit`` stays the run's. ``switched_off`` forces
    how an ``off`` step ends (a replay makes the live run's choice); ``None``: the board decides.
    """

    plan: Plan
    scaled_plan: Plan
    board: Board
    variables: Mapping[str, str]
    given: Mapping[str, str]
    images: Pairs = ()
    symbols: Pairs = ()
    fallback: Fallback | None = None
    fallback_exit: FallbackExit = FallbackExit.VERDICT
    switched_off: bool | None = None

    @property
    def time_scale(self) -> float:
        """Host (or guest) seconds per plan second on this board."""
        return self.board.time_scale

    def scaled(self, milestone: Milestone) -> Milestone:
        """A milestone written in plan seconds (a Python test's own) in this board's seconds."""
        return milestone.scaled(self.time_scale)

    def plan_seconds(self, seconds: float) -> float:
        """A time measured on this board in plan seconds (what calibrate suggests limits in)."""
        return seconds / self.time_scale

    def expand(self, text: str, key: str) -> str:
        """``text`` with the board's image slots and the run's variables filled in."""
        return self.board.expand(text, key, self.variables)

    def image_files(self) -> dict[str, Path]:
        """The image slots that name files, expanded."""
        return self.board.image_files(self.variables)

    def symbol_images(self) -> dict[str, Path]:
        """The image slots, and the kernel an SD card's record says is on it (slot
        ``sdcard:kernel``): the autopsy then names the card's kernel's functions from the
        ``vmlinux`` or ``System.map`` built beside it, as for a kernel in a slot of its own."""
        images = self.image_files()
        card = images.get(sdcard.SLOT)
        if card is not None:
            kernel = sdcard.recorded_files(card).get("kernel")
            if kernel is not None:
                images[f"{sdcard.SLOT}:kernel"] = kernel
        return images

    def check_images(self) -> None:
        """Raise :class:`MissingImage` for the first image slot whose file is not there."""
        for slot, path in self.image_files().items():
            if not path.is_file():
                raise MissingImage(f"image slot {slot!r}: {path} does not exist")

    def symbol_files(self, notes: list[str]) -> list[tuple[str, Path]]:
        """The ``[symbols]`` of the board and the plan, then ``--symbols``, expanded; a value that
        cannot be expanded is left out with a note in ``notes``."""
        given: list[tuple[str, Path]] = []
        named = [*self.board.symbols.items(), *self.plan.symbols.items()]
        for label, value in [*named, *self.symbols]:
            try:
                given.append((label, Path(self.expand(value, f"symbols.{label}"))))
            except ConfigError as exc:
                notes.append(f"symbols {label}: {exc}")
        return given

    def off_command(self) -> str | None:
        """What an ``off`` step types, or ``None`` when hartbeat switches the target off instead."""
        if self.switched_off is not None:
            return None if self.switched_off else DEFAULT_OFF_COMMAND
        kind = self.board.target
        if kind in KINDS and target_kind(kind, self.board.path).switched_off:
            return None
        # The command line's value, else the board's, else the plan's, else poweroff.
        if "off_command" not in {**self.board.variables, **self.variables}:
            return DEFAULT_OFF_COMMAND
        return self.expand("{off_command}", "variables.off_command") or None

    def fallen_back(self, why: str) -> RunSetup:
        """The setup on the board's fallback profile, the one asked for being unavailable (``why``).

        The same plan, given variables (the seed too), ``--image`` and ``--set`` overrides
        follow the run to the fallback; its ``fallback_exit`` stays the asked-for board's.
        """
        if self.board.fallback is None or self.fallback is not None:
            raise ConfigError(self.board.path, "fallback", "the board has no fallback")
        fallback = load_fallback(self.board, self.images)
        setup = _setup(self.plan, fallback, self.given, self.images, self.symbols, self.switched_off)
        return replace(
            setup,
            fallback=Fallback(self.board.name, why, setup.board.name),
            fallback_exit=self.fallback_exit,
        )


def prepare(
    plan: Plan,
    board: Board,
    *,
    variables: Mapping[str, str] | None = None,
    images: Iterable[tuple[str, str]] = (),
    symbols: Iterable[tuple[str, str]] = (),
    switched_off: bool | None = None,
) -> RunSetup:
    """The setup of ``plan`` on ``board`` with the caller's ``variables``, ``--image`` slots and
    ``--symbols``; a seed is drawn here unless ``variables`` has one, so the board and its
    fallback run with the same."""
    given = {"seed": str(random.randrange(1 << 31)), **(variables or {})}
    return _setup(plan, board, given, tuple(images), tuple(symbols), switched_off)


def recorded(run: RecordedRun, plan: Plan, *, switched_off: bool | None = None) -> RunSetup:
    """The setup that judges a recorded run again with ``plan``: a board of the recorded name,
    path and ``time_scale`` with no target (replay, calibrate)."""
    board = run.report.get("board", {})
    scale = board.get("time_scale")
    recorded_board = Board(
        name=str(board.get("name", "recorded")),
        path=Path(str(board.get("path", "recorded"))),
        target="replay",
        # Reports from before time_scale was recorded: the plan limits show it against the file.
        time_scale=float(scale) if scale is not None else 1.0,
    )
    setup = prepare(plan, recorded_board, switched_off=switched_off)
    # A run on the fallback board is replayed as one: its report says so, as the live one did.
    asked = run.report.get("fallback_for")
    if not isinstance(asked, dict) or not all(isinstance(asked.get(key), str) for key in ("board", "reason")):
        return setup  # none, or not as hartbeat writes it (run_folder.load_run reports the file's shape)
    try:
        fallback_exit = FallbackExit(run.report.get("fallback_exit", FallbackExit.VERDICT.value))
    except ValueError:
        fallback_exit = FallbackExit.VERDICT
    fallback = Fallback(asked["board"], asked["reason"], recorded_board.name)
    return replace(setup, fallback=fallback, fallback_exit=fallback_exit)


def _setup(
    plan: Plan, board: Board, given: Mapping[str, str], images: Pairs, symbols: Pairs, switched_off: bool | None
) -> RunSetup:
    # The plan's own payload (linux-boot's kernel and initramfs) fills the board's slots it
    # names; a slot given on the command line wins.
    board = board.with_plan_images(plan.images, (slot for slot, _ in images))
    return RunSetup(
        plan=plan,
        scaled_plan=plan.scaled(board.time_scale),
        board=board,
        variables=MappingProxyType(run_variables(plan, board, given)),
        given=MappingProxyType(dict(given)),
        images=images,
        symbols=symbols,
        fallback_exit=board.fallback_exit,
        switched_off=switched_off,
    )
