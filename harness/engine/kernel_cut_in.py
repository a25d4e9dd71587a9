"""Kernel messages printed into the middle of a prompt.

The kernel writes to the console UART directly, so a printk can land inside a prompt that
userspace is printing: ``unmatched lo[   12.345678] random: crng init done\\ngin: `` or
``unmatched login: [   12.345678] random: crng init done\\n``. Matching ``login: $`` on the
text as printed fails, a classic source of flaky boots. The matcher also tries prompt patterns
on the open line joined to the start of the line the message cut into (``unmatched login: ``);
the text itself, the logs and other matches stay as printed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# A Linux printk timestamp, which starts every kernel console line.
KERNEL_MESSAGE = re.compile(r"\[\s*\d+\.\d{6}\] ")
# A message cut in by further messages ends up a few lines back; further means unrelated.
LOOK_BACK = 4


def interrupted_prefix(recent_lines: Sequence[str]) -> str | None:
    """The part before a kernel message of the line it cut into, or ``None``.

    ``recent_lines`` are the newest complete lines, oldest first. Lines that are kernel
    messages from their start are stepped over (several printks in a row); the first other
    line must carry a kernel message after some text.
    """
    for line in reversed(recent_lines[-LOOK_BACK:]):
        found = KERNEL_MESSAGE.search(line)
        if found is None:
            return None
        if found.start() > 0:
            return line[: found.start()]
    return None
