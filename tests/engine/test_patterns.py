"""harness.engine.patterns: user regular expressions searched within a time budget."""

from __future__ import annotations

import re
import time

import pytest
import regex

from harness.engine import patterns
from harness.engine.patterns import PatternTooSlow, bounded, check_compiles, has_nested_quantifier, search


def test_search_finds_what_re_finds_with_the_same_flags() -> None:
    pattern = re.compile(r"^login: $", re.MULTILINE | re.IGNORECASE)
    text = "Debian GNU/Linux\nLOGIN: \n"
    found, expected = search(pattern, text), pattern.search(text)
    assert found is not None and expected is not None
    assert (found.group(), found.span()) == (expected.group(), expected.span()) == ("LOGIN: ", (17, 24))


def test_search_respects_pos_and_endpos() -> None:
    pattern = re.compile("OpenSBI")
    text = "OpenSBI v1.5\nOpenSBI again"
    later = search(pattern, text, pos=1)
    assert later is not None and later.start() == text.index("OpenSBI", 1)
    assert search(pattern, text, pos=1, endpos=len("OpenSBI v1.5\nOpen")) is None


def test_the_twin_is_compiled_once_per_pattern() -> None:
    pattern = re.compile(r"U-Boot \d+")
    assert bounded(pattern) is bounded(re.compile(r"U-Boot \d+"))
    twin = regex.compile("x")
    assert bounded(twin) is twin


def test_a_catastrophic_pattern_ends_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # (a|aa)+$ on a long run of 'a' ending in '!' backtracks exponentially in both engines.
    monkeypatch.setattr(patterns, "SEARCH_BUDGET", 0.2)
    started = time.monotonic()
    with pytest.raises(PatternTooSlow, match=r"milestone 'shell' /\(a\|aa\)\+\$/ took more than 0.2 s"):
        search(re.compile(r"(a|aa)+$"), "a" * 64 + "!", label="milestone 'shell'")
    assert time.monotonic() - started < 10


def test_nested_quantifiers_are_spotted() -> None:
    for risky in (r"(a+)+$", r"(\w+\s?)*:", r"(.*x){20}"):
        assert has_nested_quantifier(risky), risky
    for plain in (r"login: $", r"(ab)+", r"\(a+\)+", r"[(a+)]+"):
        assert not has_nested_quantifier(plain), plain


def test_check_compiles_rejects_what_the_bounded_engine_cannot_take() -> None:
    check_compiles(r"Linux version \d+\.\d+")
    with pytest.raises(regex.error):
        check_compiles(r"(unclosed")
