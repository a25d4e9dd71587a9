"""Kernel messages printed into the middle of another line, put back on lines of their own.

The kernel writes to the console UART directly, so a printk can land inside a prompt that
userspace is printing: ``unmatched lo[   12.345678] random: crng init done\\ngin: ``. Matching
``login: $`` on that fails, a classic source of flaky boots. The console engine moves such a
message in front of the line it interrupted, giving ``[   12.345678] random: crng init done``
and ``unmatched login: `` (``console.raw`` keeps the bytes as they came).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A Linux printk timestamp, which starts every kernel console line.
KERNEL_MESSAGE = re.compile(r"\[\s*\d+\.\d{6}\] ")
# A kernel message inside a line (something before it), up to and including its newline.
_INSIDE_A_LINE = re.compile(r"^([^\n]+?)(\[\s*\d+\.\d{6}\] [^\n]*\n)", re.MULTILINE)
# What may be the start of a kernel message whose end has not arrived yet.
_UNFINISHED = re.compile(r"\[\s*\d+(?:\.\d{0,6}(?:\][^\n]*)?)?$")


@dataclass(frozen=True)
class Untangled:
    """A read's text with interleaved kernel messages moved.

    ``before_open_line``: kernel lines that interrupted the line left open by earlier reads
    (they go in front of it); ``text``: the rest, with messages inside lines that start in
    this read moved to the start of those lines; ``held``: an unfinished kernel message
    interrupting the open line, kept back until its end arrives.
    """

    before_open_line: str
    text: str
    held: str


def untangle(open_line: str, text: str) -> Untangled:
    """Untangle ``text`` that continues ``open_line`` (the unfinished line so far)."""
    before: list[str] = []
    if open_line:
        while True:
            first_newline = text.find("\n")
            found = KERNEL_MESSAGE.search(text, 0, first_newline if first_newline >= 0 else len(text))
            if found is None:
                break
            if first_newline < 0:
                return Untangled("".join(before), text[: found.start()], text[found.start() :])
            before.append(text[found.start() : first_newline + 1])
            text = text[: found.start()] + text[first_newline + 1 :]
    for _ in range(4):
        moved = _INSIDE_A_LINE.sub(r"\2\1", text)
        if moved == text:
            break
        text = moved
    last_line = text.rfind("\n") + 1
    unfinished = _UNFINISHED.search(text, last_line)
    if unfinished and (unfinished.start() > last_line or (last_line == 0 and open_line)):
        return Untangled("".join(before), text[: unfinished.start()], text[unfinished.start() :])
    return Untangled("".join(before), text, "")
