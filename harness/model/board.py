"""Board profiles (TOML): which target, its settings, image slots and variables.

A profile is found by name (``qemu-virt`` finds ``boards/qemu-virt.toml``) or by path.
``--set section.key=value`` overrides any key before validation, ``--image slot=path`` fills an
image slot, and ``{name}`` in a string value is replaced by an image slot or a variable.
:func:`harness.run.board_loader.load_board` reads and validates one into a :class:`Board`.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.model.config import NOT_A_FILE, Section

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# `{name}` is a variable; `$${` is a literal `${` (U-Boot's own variables), `{{` and `}}` literal braces.
_VARIABLE = re.compile(r"\$\$\{|\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LITERAL = {"$${": "${", "{{": "{", "}}": "}"}


class FallbackExit(StrEnum):
    """What a run that fell back exits with (a board's ``fallback_exit``)."""

    VERDICT = "verdict"  # as its verdict says: a pass on the fallback exits 0
    SKIP = "skip"  # a pass on the fallback exits 125: the board asked for was not tested


@dataclass(frozen=True)
class Board:
    """A loaded board profile.

    ``settings`` is the whole TOML document after overrides; each target reads and validates
    its own section from it (``[qemu]``, ``[serial]``, ``[power]`` ...). ``time_scale``
    stretches every deadline and silence limit of a plan, for targets slower than hardware.
    """

    name: str
    path: Path
    target: str
    description: str = ""
    fallback: str | None = None
    fallback_exit: FallbackExit = FallbackExit.VERDICT
    images: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    # `[symbols]`: label -> a symbol file for the autopsy (ELF or System.map), beside the images'.
    symbols: Mapping[str, str] = field(default_factory=dict)
    newline: str = "\r"
    send_delay: float = 0.0
    # Seconds without a prompt (and without output) before the newline is typed again; 0: never.
    prompt_retry: float = 0.0
    time_scale: float = 1.0
    settings: Mapping[str, Any] = field(default_factory=dict)
    # The command line's `--set` pairs, so a fallback board gets the ones that apply to it.
    overrides: tuple[tuple[str, str], ...] = ()

    def section(self, name: str) -> Section:
        """A target's own table, for typed reading with file/key errors."""
        value = self.settings.get(name, {})
        return Section(value, self.path, name)

    def expand(
        self,
        text: str,
        key: str,
        extra: Mapping[str, str] | None = None,
        *,
        quote: Callable[[str], str] | None = None,
    ) -> str:
        """Replace ``{slot}`` and ``{variable}`` in ``text``; an unknown name is a config error.

        ``$${`` gives a literal ``${`` and ``{{``/``}}`` literal braces. ``quote`` is applied to
        each substituted value: a shell command string passes ``shlex.quote``, so a value such
        as ``x;touch PWNED`` stays one word.
        """
        values = {**self.variables, **self.images, **(extra or {})}

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return _LITERAL[match.group(0)]
            if name not in values:
                known = ", ".join(sorted(values)) or "none"
                raise ConfigError(self.path, key, f"unknown variable {{{name}}}; known: {known}")
            value = str(values[name])
            return quote(value) if quote else value

        return _VARIABLE.sub(lookup, text)

    def image_files(self, variables: Mapping[str, str], slots: Iterable[str] = ()) -> dict[str, Path]:
        """The image slots that name files (``slots``, or all of them), expanded."""
        files = {}
        for slot in tuple(slots) or tuple(self.images):
            expanded = self.expand(self.images[slot], f"images.{slot}", variables)
            if expanded.lower() not in NOT_A_FILE:
                files[slot] = Path(expanded)
        return files

    def with_plan_images(self, images: Mapping[str, str], given: Iterable[str] = ()) -> Board:
        """The board with a plan's ``[images]`` filling the slots it has, except those in ``given``.

        A plan that boots its own payload (linux-boot's kernel and initramfs) names it; the
        board keeps its firmware and every slot the plan does not name, and a slot given on the
        command line (``--image``) wins over the plan.
        """
        keep = set(given)
        filled = {slot: value for slot, value in images.items() if slot in self.images and slot not in keep}
        if not filled:
            return self
        return replace(self, images={**self.images, **filled})


def search_path(kind: str) -> list[Path]:
    """Folders searched for ``boards`` or ``testplans`` given by name.

    ``$HARTBEAT_BOARDS`` / ``$HARTBEAT_TESTPLANS`` first, then the current folder, the checkout,
    and last the copies an installed wheel puts in ``<prefix>/share/hartbeat``.
    """
    paths = [Path.cwd() / kind, PROJECT_ROOT / kind, Path(sys.prefix) / "share" / "hartbeat" / kind]
    extra = os.environ.get(f"HARTBEAT_{kind.upper()}")
    if extra:
        paths[:0] = [Path(item) for item in extra.split(os.pathsep) if item]
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def resolve(name_or_path: str, kind: str) -> Path:
    """The TOML file for a board or plan name, or the path as given."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in name_or_path:
        if not _is_file(candidate):
            raise ConfigError(candidate, "", f"no such {kind[:-1]} file")
        return candidate
    for folder in search_path(kind):
        path = folder / f"{name_or_path}.toml"
        if _is_file(path):
            return path
    available = ", ".join(sorted({p.stem for folder in search_path(kind) for p in folder.glob("*.toml")}))
    raise ConfigError(name_or_path, "", f"no {kind[:-1]} of that name; available: {available or 'none'}")


def _is_file(path: Path) -> bool:
    # A name too long for the file system (or with a NUL byte) names no file; not a traceback.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def parse_assignments(items: Iterable[str], flag: str) -> list[tuple[str, str]]:
    """``key=value`` pairs from repeated command-line flags."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(flag, item, "expected KEY=VALUE")
        pairs.append((key.strip(), value))
    return pairs


def _toml_value(text: str) -> Any:
    """``--set`` values are TOML when they parse (numbers, booleans, arrays), else strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(document: dict[str, Any], overrides: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A copy of ``document`` with dotted keys set (``qemu.smp=2``)."""
    result: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in document.items()}
    for dotted, text in overrides:
        parts = dotted.split(".")
        table = result
        for part in parts[:-1]:
            child = table.get(part)
            if child is None:
                child = table[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError("--set", dotted, f"{part!r} is not a table")
            else:
                child = table[part] = dict(child)
            table = child
        table[parts[-1]] = _toml_value(text)
    return result
