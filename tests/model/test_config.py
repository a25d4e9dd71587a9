"""Reading plans and boards (harness/model/config.py): typed values, durations, patterns, TOML files,
and every mistake one :class:`ConfigError` naming the file and the dotted key.

The same mistakes through ``hartbeat check`` and ``run`` (exit 2, no traceback) are in
tests/model/test_config_errors.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.config import MAX_DURATION, Section, anchor_image, compile_regex, load_toml, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("15s", 15.0), ("5m", 300.0), ("250ms", 0.25), ("1h", 3600.0), (" 2.5 s ", 2.5), ("7", 7.0), (3, 3.0), (0.5, 0.5)],
)
def test_durations_in_every_unit(value: object, seconds: float) -> None:
    assert parse_duration(value, "b.toml", "k") == seconds


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("soon", 'expected a duration like "15s" or "5m"'),
        (True, 'expected a duration like "15s"'),
        ("-1s", 'expected a duration like "15s"'),
        (-1, "expected a positive duration"),
        ("0s", "expected a positive duration"),
        (math.inf, "expected a finite duration of at most"),
        (math.nan, "expected a finite duration"),
        (f"{MAX_DURATION + 1}s", "expected a finite duration of at most 604800 s"),
    ],
)
def test_a_bad_duration_names_file_and_key(value: object, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_duration(value, "b.toml", "serial.timeout")
    assert str(error.value).startswith("b.toml: serial.timeout: ") and words in str(error.value)


def test_zero_only_where_allowed() -> None:
    assert parse_duration("0s", "b", "k", allow_zero=True) == 0.0
    with pytest.raises(ConfigError, match="at most 10 s"):
        parse_duration("11s", "b", "k", limit=10)


def test_patterns_match_per_line_and_bad_ones_are_named() -> None:
    assert compile_regex("^login: $", "p.toml", "k").flags & re.MULTILINE
    for value, words in [("(", "bad regular expression '('"), ("", "expected a non-empty"), (3, "got 3")]:
        with pytest.raises(ConfigError) as error:
            compile_regex(value, "p.toml", "milestone[0].expect")
        assert str(error.value).startswith("p.toml: milestone[0].expect: ") and words in str(error.value)


def test_a_file_that_is_not_toml_says_why(tmp_path: Path) -> None:
    cases = {"missing.toml": None, "bad.toml": b"name = \n", "latin1.toml": b'name = "caf\xe9"\n'}
    words = {"missing.toml": "file not found", "bad.toml": "not valid TOML", "latin1.toml": "not UTF-8 text (byte"}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ConfigError) as error:
            load_toml(tmp_path / name)
        assert str(error.value).startswith(f"{tmp_path / name}: ") and words[name] in str(error.value)
    (tmp_path / "good.toml").write_text('name = "x"\n[serial]\nport = "/dev/ttyUSB1"\n')
    assert load_toml(tmp_path / "good.toml") == {"name": "x", "serial": {"port": "/dev/ttyUSB1"}}


def test_typed_values_defaults_and_required() -> None:
    section = Section({"name": "b", "on": True, "smp": 4, "ratio": 1.5, "ports": "a"}, "b.toml", "qemu")
    assert section.string("name") == "b" and section.string("other", "dflt") == "dflt"
    assert section.boolean("on") is True and section.boolean("off") is False
    assert section.integer("smp", 1) == 4 and section.number("ratio") == 1.5 and section.number("smp") == 4.0
    assert section.str_list("ports") == ["a"]  # one string is a list of one
    with pytest.raises(ConfigError, match=r"^b.toml: qemu.machine: missing; expected a string$"):
        section.string("machine", required=True)


@pytest.mark.parametrize(
    ("data", "read", "key", "words"),
    [
        ({"smp": True}, lambda s: s.integer("smp"), "t.smp", "expected an integer, got True"),
        ({"smp": "4"}, lambda s: s.integer("smp"), "t.smp", "expected an integer, got '4'"),
        ({"smp": 1 << 41}, lambda s: s.integer("smp"), "t.smp", "expected an integer of at most"),
        ({"x": math.inf}, lambda s: s.number("x"), "t.x", "expected a finite number"),
        ({"on": "yes"}, lambda s: s.boolean("on"), "t.on", "expected true or false, got 'yes'"),
        ({"l": ["a", 2]}, lambda s: s.str_list("l"), "t.l[1]", "expected a string, got 2"),
        ({"m": [{"a": 1}, 3]}, lambda s: s.tables("m"), "t.m[1]", "expected a table, got 3"),
        ({"v": {"ok": 1, "no": True}}, lambda s: s.variables("v"), "t.v.no", "expected a string or number"),
        ({"sub": 3}, lambda s: s.table("sub"), "t.sub", "expected a table, got 3"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_dotted_key(data: dict, read, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        read(Section(data, "b.toml", "t"))
    assert str(error.value).startswith(f"b.toml: {key}: ") and words in str(error.value)


def test_sub_tables_carry_their_path_and_variables_become_strings() -> None:
    root = Section({"milestone": [{"name": "a"}, {"name": "b", "within": "x"}], "v": {"n": 3, "s": "t"}}, "p.toml")
    second = root.tables("milestone")[1]
    with pytest.raises(ConfigError, match=r"^p.toml: milestone\[1\].within: "):
        second.duration("within")
    assert root.variables("v") == {"n": "3", "s": "t"}
    assert root.table("absent").data == {}


def test_an_unread_key_is_refused_with_the_closest_known_one() -> None:
    section = Section({"off_time": "2s", "ofttime": "1s"}, "b.toml", "power")
    section.duration("off_time")
    with pytest.raises(ConfigError) as error:
        section.reject_unknown()
    assert str(error.value) == "b.toml: power.ofttime: unknown key (did you mean 'off_time'?); known keys: off_time"
    section.reject_unknown(allowed_extra=["ofttime"])  # a key read elsewhere


def test_image_paths_are_anchored_at_their_file(tmp_path: Path) -> None:
    assert anchor_image("out/Image", tmp_path) == str(tmp_path / "out" / "Image")
    for kept in ("/abs/Image", "{build}/Image", "none", "default", ""):
        assert anchor_image(kept, tmp_path) == kept
