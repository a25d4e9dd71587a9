"""harness.engine.text: console text made safe for reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.engine.text import printable, printable_tree


def test_colour_codes_are_dropped() -> None:
    assert printable("[\x1b[0;32m  OK  \x1b[0m] Started Journal") == "[  OK  ] Started Journal"
    # OSC (a window title), a two-byte escape and an 8-bit CSI.
    assert printable("\x1b]0;title\x07a\x1bMb\x9b1mc") == "abc"


def test_other_controls_are_escaped_and_tab_and_newline_kept() -> None:
    assert printable("a\bb\x07c\x00") == "a\\x08b\\x07c\\x00"
    assert printable("col\tumn\nnext") == "col\tumn\nnext"
    assert printable("bad\ud800half\uffff") == "bad\ufffdhalf\ufffd"


def test_printable_text_is_returned_as_it_is() -> None:
    text = "U-Boot 2024.01 (Jan 01 2024)"
    assert printable(text) is text


def test_every_string_inside_a_tree() -> None:
    tree = {"reason\x1b[1m": ["a\x07", ("b\x1b[0m", 3)], "n": None}
    assert printable_tree(tree) == {"reason": ["a\\x07", ["b", 3]], "n": None}


def test_the_result_is_well_formed_xml() -> None:
    raw = "".join(chr(c) for c in range(0x20)) + "\x1b[31mred\x7f\x85"
    element = ET.Element("failure", message=printable(raw))
    assert ET.fromstring(ET.tostring(element)).get("message") is not None
