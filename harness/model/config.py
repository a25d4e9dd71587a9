"""Reading TOML plans and board profiles with errors that name the file and the key.

Every value a user writes passes through :class:`Section`, so a wrong type, an unknown key or
a bad duration is reported as ``file: key: expected ..., got ...`` instead of a traceback.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, overload

import regex

from harness.engine.patterns import check_compiles
from harness.errors import ConfigError

# Image slot values that are words, not files: the target's own default.
NOT_A_FILE = {"none", "default", ""}


def anchor_image(value: str, folder: Path) -> str:
    """An image path from a file in ``folder`` (a board or a plan): relative paths start there."""
    if value.lower() in NOT_A_FILE or value.startswith(("/", "{")):
        return value
    return str((folder / value).resolve())


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
# No boot, build or bisect step waits a week: a longer duration is a typo (or `inf`), and one
# that large would overflow the timers it feeds.
MAX_DURATION = 7 * 24 * 3600.0
# Integers beyond this are no port, count or size any target takes.
MAX_INT = 1 << 40


def _finite(value: float, limit: float) -> bool:
    return math.isfinite(value) and abs(value) <= limit


def parse_duration(
    value: object, source: str | Path, key: str, *, allow_zero: bool = False, limit: float = MAX_DURATION
) -> float:
    """Return seconds for ``"15s"``, ``"5m"``, ``"250ms"``, ``"1h"`` or a bare number of seconds.

    NaN, infinities and anything over ``limit`` seconds are refused: each would make a run that
    never ends or a report that is not valid JSON.
    """
    if isinstance(value, bool):
        raise ConfigError(source, key, f'expected a duration like "15s" or "5m", got {value!r}')
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(source, key, f'expected a duration like "15s" or "5m", got {value!r}')
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not _finite(seconds, limit):
        raise ConfigError(source, key, f"expected a finite duration of at most {limit:g} s, got {value!r}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(source, key, f"expected a positive duration, got {value!r}")
    return seconds


def compile_regex(value: object, source: str | Path, key: str) -> re.Pattern[str]:
    """Compile a user's regular expression, reporting a syntax error against its key."""
    if not isinstance(value, str) or not value:
        raise ConfigError(source, key, f"expected a non-empty regular expression string, got {value!r}")
    try:
        # Patterns are matched line by line, so ^ and $ mean the start and end of a line.
        compiled = re.compile(value, re.MULTILINE)
        # The console searches with the bounded engine (harness.engine.patterns): it must take it too.
        check_compiles(value, re.MULTILINE)
    except (re.error, regex.error, OverflowError, ValueError) as exc:
        raise ConfigError(source, key, f"bad regular expression {_shorten(value)!r}: {exc}") from None
    except RecursionError:
        raise ConfigError(source, key, f"regular expression {_shorten(value)!r} is nested too deeply") from None
    return compiled


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error becomes a :class:`ConfigError`."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (byte {exc.start}): TOML files must be UTF-8") from None
    except RecursionError:
        raise ConfigError(path, "", "not valid TOML: arrays or tables nested too deeply") from None


class Section:
    """A TOML table being read: typed getters, and a check that no unknown key is left over.

    ``prefix`` is the dotted path of the table inside the file (``milestone[2]``), so errors
    point at the exact entry.
    """

    def __init__(self, data: Mapping[str, Any], source: str | Path, prefix: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(source, prefix, f"expected a table, got {type(data).__name__}")
        self.data = data
        self.source = source
        self.prefix = prefix
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        """The dotted key used in error messages."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str) -> ConfigError:
        """A :class:`ConfigError` for ``name`` in this table."""
        return ConfigError(self.source, self.key(name), problem)

    def _get(self, name: str, kinds: tuple[type, ...], expected: str, default: Any, required: bool) -> Any:
        self._read.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, f"missing; expected {expected}")
            return default
        value = self.data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(name, f"expected {expected}, got {value!r}")
        return value

    # Named after the TOML types rather than `str`/`int`/`bool`, which inside the class would
    # shadow the builtins in every annotation below.
    @overload
    def string(self, name: str, default: str, *, required: bool = False) -> str: ...
    @overload
    def string(self, name: str, default: None = None, *, required: bool = False) -> str | None: ...
    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string value."""
        value: str | None = self._get(name, (str,), "a string", default, required)
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        """A boolean value."""
        value: bool = self._get(name, (bool,), "true or false", default, False)
        return value

    @overload
    def integer(self, name: str, default: int, *, required: bool = False, limit: int = ...) -> int: ...
    @overload
    def integer(self, name: str, default: None = None, *, required: bool = False, limit: int = ...) -> int | None: ...
    def integer(
        self, name: str, default: int | None = None, *, required: bool = False, limit: int = MAX_INT
    ) -> int | None:
        """An integer value, at most ``limit`` in size."""
        value: int | None = self._get(name, (int,), "an integer", default, required)
        if value is not None and name in self.data and abs(value) > limit:
            raise self.error(name, f"expected an integer of at most {limit}, got {value!r}")
        return value

    def number(self, name: str, default: float | None = None, *, limit: float = MAX_INT) -> float | None:
        """An integer or float value: finite, at most ``limit`` in size."""
        value = self._get(name, (int, float), "a number", default, False)
        if value is None:
            return None
        if not _finite(float(value), limit):
            raise self.error(name, f"expected a finite number of at most {limit:g}, got {value!r}")
        return float(value)

    @overload
    def duration(
        self,
        name: str,
        default: float,
        *,
        required: bool = False,
        allow_zero: bool = False,
        limit: float = MAX_DURATION,
    ) -> float: ...
    @overload
    def duration(
        self,
        name: str,
        default: None = None,
        *,
        required: bool = False,
        allow_zero: bool = False,
        limit: float = MAX_DURATION,
    ) -> float | None: ...
    def duration(
        self,
        name: str,
        default: float | None = None,
        *,
        required: bool = False,
        allow_zero: bool = False,
        limit: float = MAX_DURATION,
    ) -> float | None:
        """A duration (``"15s"``) in seconds, at most ``limit``."""
        self._read.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, 'missing; expected a duration like "30s"')
            return default
        return parse_duration(self.data[name], self.source, self.key(name), allow_zero=allow_zero, limit=limit)

    def regex(self, name: str, *, required: bool = False) -> re.Pattern[str] | None:
        """A regular expression, compiled."""
        self._read.add(name)
        if name not in self.data:
            if required:
                raise self.error(name, "missing; expected a regular expression")
            return None
        return compile_regex(self.data[name], self.source, self.key(name))

    def str_list(self, name: str, default: Iterable[str] = ()) -> list[str]:
        """A list of strings (a single string is accepted as a one-element list)."""
        value = self._get(name, (list, str), "a list of strings", list(default), False)
        if isinstance(value, str):
            return [value]
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(self.source, f"{self.key(name)}[{index}]", f"expected a string, got {item!r}")
        return list(value)

    def table(self, name: str) -> Section:
        """A sub-table (empty when absent)."""
        value = self._get(name, (dict,), "a table", {}, False)
        return Section(value, self.source, self.key(name))

    def tables(self, name: str) -> list[Section]:
        """An array of tables (``[[milestone]]``)."""
        value = self._get(name, (list,), "an array of tables", [], False)
        sections = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(self.source, f"{self.key(name)}[{index}]", f"expected a table, got {item!r}")
            sections.append(Section(item, self.source, f"{self.key(name)}[{index}]"))
        return sections

    def variables(self, name: str) -> dict[str, str]:
        """A table of ``{name}`` variables: strings or numbers, kept as strings."""
        table = self.table(name)
        values = {}
        for key, value in table.data.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise table.error(key, f"expected a string or number, got {value!r}")
            values[key] = str(value)
        return values

    def raw(self, name: str, default: Any = None) -> Any:
        """The value as TOML gave it, for keys whose type depends on another key."""
        self._read.add(name)
        return self.data.get(name, default)

    def reject_unknown(self, allowed_extra: Iterable[str] = ()) -> None:
        """Raise for a key nobody read: a typo must not be silently ignored."""
        known = self._read | set(allowed_extra)
        for name in self.data:
            if name not in known:
                hint = _closest(name, known)
                suggestion = f" (did you mean {hint!r}?)" if hint else ""
                raise self.error(name, f"unknown key{suggestion}; known keys: {', '.join(sorted(known))}")


def _closest(name: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None
