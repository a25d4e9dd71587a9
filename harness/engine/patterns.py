"""User regular expressions searched with a time budget, so no pattern can hang a run.

Python's ``re`` backtracks without limit and holds the GIL while it does: a milestone such as
``(a+)+$`` against ``'a' * 48 + '!'`` would block the matcher, the reader thread and every
deadline for hours. The ``regex`` engine accepts the same syntax, and its ``timeout`` argument
ends a search that runs too long, so each search here has a budget and a pattern that blows it
becomes an error naming the pattern instead of a hang.
"""

from __future__ import annotations

import functools
import re

import regex

from harness.errors import HartbeatError

# Searching a whole 16 MB block of console text with an ordinary pattern takes well under 0.1 s;
# a second per search is far from that and still keeps every deadline within seconds.
SEARCH_BUDGET = 1.0

AnyPattern = re.Pattern[str] | regex.Pattern[str]
AnyMatch = re.Match[str] | regex.Match[str]

# A group holding a quantifier, itself quantified: `(a+)+`, `(\w+\s?)*`, `(.*x){20}`. Such a
# pattern may try exponentially many ways to split a line that almost matches.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[+*}](?:[^()\\]|\\.)*\)[+*{]")


class PatternTooSlow(HartbeatError):
    """A pattern's search exceeded :data:`SEARCH_BUDGET`: the run ends as ``error``."""


def bounded(pattern: AnyPattern) -> regex.Pattern[str]:
    """The budget-capable ``regex`` twin of ``pattern`` (compiled once per pattern)."""
    if isinstance(pattern, regex.Pattern):
        return pattern
    return _twin(pattern.pattern, pattern.flags)


@functools.lru_cache(maxsize=512)
def _twin(source: str, flags: int) -> regex.Pattern[str]:
    # re's flag values are the same bits in regex; UNICODE is implied for str patterns.
    return regex.compile(source, (flags & ~re.UNICODE) | regex.VERSION0)


def check_compiles(source: str, flags: int = re.MULTILINE) -> None:
    """Raise ``regex.error`` or ``ValueError`` when the bounded engine cannot take ``source``."""
    _twin(source, flags)


def search(
    pattern: AnyPattern, text: str, pos: int = 0, endpos: int | None = None, *, label: str = ""
) -> regex.Match[str] | None:
    """``pattern.search(text, pos, endpos)`` within the budget; :class:`PatternTooSlow` past it."""
    twin = bounded(pattern)
    try:
        return twin.search(text, pos, len(text) if endpos is None else endpos, timeout=SEARCH_BUDGET)
    except TimeoutError:
        raise PatternTooSlow(
            f"{label or 'pattern'} /{pattern.pattern}/ took more than {SEARCH_BUDGET:g} s on one search of the "
            "console text (catastrophic backtracking, e.g. a nested quantifier like (a+)+); simplify it"
        ) from None


def has_nested_quantifier(source: str) -> bool:
    """True when ``source`` quantifies a group that holds a quantifier (a backtracking risk)."""
    return _NESTED_QUANTIFIER.search(source) is not None
