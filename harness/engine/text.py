"""Console text made safe for reports: colour codes dropped, other control characters escaped.

A console is full of terminal control: systemd's ``[  OK  ]`` comes in ANSI colours, firmware
prints backspaces and bells. Those bytes make junit.xml malformed XML (XML 1.0 forbids most
control characters) and would split one hang's signature from another's. The reports show what
a reader sees; ``console.raw`` keeps every byte.
"""

from __future__ import annotations

import re
from typing import Any

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte escapes (ESC x).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
# C0 and C1 controls (and DEL) except tab and newline; lone surrogates cannot be encoded in
# UTF-8 at all, and U+FFFE/U+FFFF are not XML characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` without ANSI escape sequences, other control characters shown as ``\\xNN``."""
    if text.isprintable():
        return text
    text = _ANSI.sub("", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else "\ufffd", text)


def printable_tree(value: Any) -> Any:
    """:func:`printable` applied to every string inside dicts, lists and tuples."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_tree(item) for item in value]
    return value
