"""The line matcher: console text in, lines kept and watches matched out. No threads, no files.

:class:`LineEndings` turns the target's bytes into text with every line ending a ``\\n``.
:class:`RecentLines` keeps the ring of recent lines and the unfinished last one, for verdicts.
:class:`Matcher` holds the text no search has consumed yet and searches it: each pattern once
per block (C speed, linear in the input, within the pattern budget of
:mod:`harness.engine.patterns`), a hit confirmed on its own line; patterns are also tried on the
pending partial line, because prompts end without a newline, and on a prompt a kernel message
cut into (:mod:`harness.engine.kernel_cut_in`).

The caller says whether the console has paused long enough for a match that runs to the end of
the unfinished line to be taken (``settled``): the matcher has no clock.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

from harness.engine.kernel_cut_in import LOOK_BACK, interrupted_prefix
from harness.engine.patterns import AnyMatch, AnyPattern, search
from harness.engine.watch_kind import WatchKind

HISTORY_LINES = 200
# A line longer than this is matched in windows: a firehose without newlines must not make
# every partial-line search rescan megabytes.
PARTIAL_WINDOW = 4096
# Text the matcher has not consumed yet is capped, so a console nobody waits on cannot grow
# memory without bound; everything still reaches the log files.
PENDING_LIMIT = 16 * 1024 * 1024
# The unfinished line kept for the matcher and the verdict's last lines: a target that prints
# megabytes without a newline must cost linear time and bounded memory. A line longer than
# LONG_LINE is matched on its last LONG_LINE_KEEP characters; the log files keep all of it.
LONG_LINE = 1024 * 1024
LONG_LINE_KEEP = LONG_LINE // 2
# Marks a line whose start was dropped (longer than LONG_LINE).
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class Watch:
    """A pattern the matcher looks for.

    ``kind`` says what a match means to the caller (:class:`WatchKind`); ``partial``
    allows a match on the unfinished last line; ``key`` is where the pattern was written
    (``plan.toml: milestone[2].expect``), for the error when it is too slow to search;
    ``settle`` makes a match that runs to the end of an unfinished line wait for a pause (a
    capture could be cut by a read boundary), which a watch without captures that the harness
    answers by typing does not need.
    """

    name: str
    kind: WatchKind
    regex: AnyPattern
    partial: bool = True
    key: str = ""
    settle: bool = True


@dataclass(frozen=True)
class Matched:
    """A watch matched ``line`` at ``t`` seconds after power-on."""

    watch: Watch
    match: AnyMatch
    line: str
    t: float
    # Index of the matched line among all lines since power-on (see Console.lines_around).
    line_no: int = 0
    # Whether the match was on the unfinished last line (a prompt): ``line`` is that line as it
    # stood then, however it ends later (see Console.lines_through).
    open_line: bool = False

    @property
    def groups(self) -> dict[str, str]:
        """Named groups of the match, without the ones that did not take part."""
        return {k: v for k, v in self.match.groupdict().items() if v is not None}


class LineEndings:
    """Bytes to text, incrementally, with every line ending made a ``\\n``.

    UTF-8 split across reads is joined; bytes that are not UTF-8 become U+FFFD.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._carry_cr = ""

    def decode(self, data: bytes) -> str:
        """The text of ``data``, less a run of ``\\r`` at its end (held for the next read)."""
        # Consoles end lines with \r\n, and a tty in cooked mode on the way adds another \r;
        # a run of \r split across two reads is held back until the next one. A bare \r (some
        # consoles end lines with it alone) ends a line too.
        text = self._carry_cr + self._decoder.decode(data)
        stripped = text.rstrip("\r")
        self._carry_cr = text[len(stripped) :]
        # str.replace runs at memory speed; a regex for \r+\n was the engine's slowest step.
        if "\r" in stripped:
            return stripped.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
        return stripped


class RecentLines:
    """The last ``size`` complete lines with their times, the unfinished one, and captures.

    Lines are numbered from 0 since the console opened; :attr:`total` counts the complete ones.
    """

    def __init__(self, size: int = HISTORY_LINES) -> None:
        self._ring: deque[tuple[float, str]] = deque(maxlen=size)
        self._captures: list[list[tuple[float, str]]] = []
        self._total = 0
        self._partial = ""
        self._partial_t = 0.0
        # The unfinished line was longer than LONG_LINE and only its tail is kept.
        self._partial_cut = False
        # Length of the unfinished line so far, however much of it is kept.
        self._open_len = 0

    @property
    def total(self) -> int:
        """Complete lines so far."""
        return self._total

    @property
    def partial(self) -> str:
        """The unfinished last line as kept (its tail only, if :attr:`partial_cut`)."""
        return self._partial

    @property
    def partial_t(self) -> float:
        """When the unfinished last line started."""
        return self._partial_t

    @property
    def partial_cut(self) -> bool:
        """Whether the unfinished line's start was dropped (it is longer than LONG_LINE)."""
        return self._partial_cut

    @property
    def open_length(self) -> int:
        """Characters of the unfinished last line, however much of it is kept."""
        return self._open_len

    def add(self, text: str, t: float) -> None:
        """Split ``text`` (arrived at ``t``) onto the unfinished line; complete lines to the ring."""
        newline = text.rfind("\n")
        self._open_len = len(text) - newline - 1 if newline >= 0 else self._open_len + len(text)
        had_partial = bool(self._partial) or self._partial_cut
        lines = (self._partial + text).split("\n")
        complete, self._partial = lines[:-1], lines[-1]
        if complete:
            if self._partial_cut:
                complete[0] = ELLIPSIS + complete[0]
                self._partial_cut = False
            self._ring.extend(zip(repeat(t), complete))
            for capture in self._captures:
                capture.extend(zip(repeat(t), complete))
            self._total += len(complete)
        if complete or not had_partial:
            self._partial_t = t
        if len(self._partial) > LONG_LINE:
            self._partial = self._partial[-LONG_LINE_KEEP:]
            self._partial_cut = True

    def finish(self) -> None:
        """The console stopped: the unfinished line goes to the ring as it stands."""
        if self._partial or self._partial_cut:
            self._ring.append((self._partial_t, self._shown_partial()))
            self._partial = ""
            self._partial_cut = False
        # Nothing is unfinished any more: text arriving later starts a new line from 0.
        self._open_len = 0

    def newest(self, count: int) -> list[str]:
        """The texts of the newest ``count`` complete lines still held, oldest first."""
        return [line for _t, line in list(self._ring)[-count:]]

    def around(self, line_no: int, before: int, after: int) -> list[tuple[float, str]]:
        """Line ``line_no`` with ``before - 1`` lines before it and up to ``after`` after it, as
        far as the ring still holds them."""
        first = self._total - len(self._ring)
        lines = list(self._ring)
        start = max(0, line_no - before + 1 - first)
        return lines[start : max(0, line_no + 1 + after - first)]

    def last(self, count: int) -> list[tuple[float, str]]:
        """The most recent lines with their times, the unfinished one last."""
        lines = list(self._ring)
        if self._partial or self._partial_cut:
            lines.append((self._partial_t, self._shown_partial()))
        return lines[-count:]

    def start_capture(self) -> list[tuple[float, str]]:
        """A list that every line completed from now on is appended to, until :meth:`end_capture`."""
        lines: list[tuple[float, str]] = []
        self._captures.append(lines)
        return lines

    def end_capture(self, lines: list[tuple[float, str]]) -> None:
        """Stop filling ``lines``, and add the unfinished last line (a prompt) as it stands."""
        self._captures.remove(lines)
        if self._partial:
            lines.append((self._partial_t, self._partial))

    def _shown_partial(self) -> str:
        return (ELLIPSIS if self._partial_cut else "") + self._partial


@dataclass
class PendingText:
    """Decoded text not yet seen by the matcher, with the arrival time of each piece.

    ``line_no`` is the index (since the console opened) of the line the text starts in.
    """

    text: str = ""
    # (offset into text, seconds since power-on) for each piece, ascending.
    times: list[tuple[int, float]] = field(default_factory=list)
    line_no: int = 0

    def append(self, text: str, t: float) -> None:
        """Add a piece that arrived at ``t``."""
        self.times.append((len(self.text), t))
        self.text += text

    def time_at(self, offset: int) -> float:
        """Arrival time of the piece holding ``offset``."""
        t = self.times[0][1] if self.times else 0.0
        for start, when in self.times:
            if start > offset:
                break
            t = when
        return t

    def cut(self, start: int, end: int) -> None:
        """Forget ``text[start:end]``, a stretch without newlines in the middle of a long line."""
        if end <= start:
            return
        removed = end - start
        self.text = self.text[:start] + self.text[end:]
        moved: list[tuple[int, float]] = []
        for offset, when in self.times:
            if offset < start:
                moved.append((offset, when))
            elif offset < end:
                # A piece that began inside the cut now begins where the cut was.
                if moved and moved[-1][0] == start:
                    moved[-1] = (start, when)
                else:
                    moved.append((start, when))
            else:
                moved.append((offset - removed, when))
        self.times = moved

    def drop(self, count: int) -> None:
        """Forget the first ``count`` characters."""
        if count <= 0:
            return
        self.line_no += self.text.count("\n", 0, count)
        self.text = self.text[count:]
        kept = [(max(0, start - count), when) for start, when in self.times if start >= count]
        last_before = [when for start, when in self.times if start < count]
        if last_before and (not kept or kept[0][0] > 0):
            kept.insert(0, (0, last_before[-1]))
        self.times = kept


class Matcher:
    """Searches the console's text for watches, each piece of text consumed once.

    Text comes through :meth:`take`, which also keeps :attr:`lines`. A search consumes the text
    up to its match (the next pattern may be later on the same line), or every complete line
    when nothing matched.
    """

    def __init__(self, history: int = HISTORY_LINES) -> None:
        self.lines = RecentLines(history)
        self._pending = PendingText()
        # (lines, unfinished length) at the last match on a prompt a kernel message cut into.
        self._cut_in_seen = (-1, -1)

    @property
    def pending(self) -> str:
        """The text no search has consumed yet."""
        return self._pending.text

    @property
    def mid_line(self) -> bool:
        """Whether the text not yet consumed ends in an unfinished line."""
        text = self._pending.text
        return bool(text) and not text.endswith("\n")

    def restart(self) -> None:
        """Forget the text not yet consumed (the target was powered on: what a board left
        running printed before must not satisfy or fail the first milestone of this boot)."""
        self._pending = PendingText(line_no=self.lines.total)

    def take(self, text: str, t: float) -> None:
        """Text (decoded, see :class:`LineEndings`) that arrived at ``t``."""
        self.lines.add(text, t)
        self._pending.append(text, t)
        self._bound()

    def _bound(self) -> None:
        """Keep the text bounded: per long line, and in total while nobody searches."""
        pending = self._pending
        open_part = min(self.lines.open_length, len(pending.text))
        if open_part > LONG_LINE:
            end = len(pending.text) - LONG_LINE_KEEP
            pending.cut(len(pending.text) - open_part, end)
        # Bounded even while nobody waits (an SSH step, a busy test): the oldest unmatched
        # text goes, the log files keep it.
        overflow = len(pending.text) - PENDING_LIMIT
        if overflow > 0:
            pending.drop(pending.text.find("\n", overflow) + 1 or overflow)

    def search(self, watches: Sequence[Watch], settled: bool) -> Matched | None:
        """The first match in the pending text, or ``None``.

        The earliest line wins; on one line, the watch earlier in ``watches`` wins. ``settled``
        says the console has paused, so a match reaching the end of the unfinished line is
        complete.
        """
        pending = self._pending
        text = pending.text
        end_complete = text.rfind("\n") + 1
        best = _on_complete_lines(watches, text, end_complete)
        if best is None:
            best = _on_partial_line(watches, text, max(end_complete, len(text) - PARTIAL_WINDOW), settled)
        if best is None:
            hit = self._search_cut_in(watches, text[end_complete:], settled)
            pending.drop(len(text) if hit else end_complete)
            return hit
        found, watch = best
        start = found.start()
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        line_no = pending.line_no + text.count("\n", 0, start)
        hit = Matched(watch, found, line, pending.time_at(start), line_no, open_line=line_end < 0)
        # Consume up to the end of the match only: the next pattern may be later on this line.
        pending.drop(max(found.end(), start + 1))
        return hit

    def _search_cut_in(self, watches: Sequence[Watch], open_text: str, settled: bool) -> Matched | None:
        """Prompt watches on the open line joined to a line a kernel message cut into."""
        lines = self.lines
        # Only while the open line is untouched by earlier matches, and once per interruption.
        mark = (lines.total, len(lines.partial))
        if lines.partial_cut or open_text != lines.partial or mark == self._cut_in_seen:
            return None
        prefix = interrupted_prefix(lines.newest(LOOK_BACK))
        if prefix is None:
            return None
        candidate = prefix + open_text
        for watch in watches:
            found = _partial_match(watch, candidate, 0, settled)
            if found:
                self._cut_in_seen = mark
                return Matched(watch, found, candidate, lines.partial_t, lines.total, open_line=True)
        return None


def _on_complete_lines(watches: Sequence[Watch], text: str, end: int) -> tuple[AnyMatch, Watch] | None:
    """The first match within one complete line of ``text[:end]``: earliest line, then earliest watch."""
    best: tuple[int, int, AnyMatch, Watch] | None = None
    for order, watch in enumerate(watches):
        found = _first_line_match(watch, text, 0, end)
        # The earliest line wins; on one line, the earlier watch (a fail pattern) wins.
        line_start = text.rfind("\n", 0, found.start()) + 1 if found else 0
        if found and (best is None or (line_start, order) < (best[0], best[1])):
            best = (line_start, order, found, watch)
    return None if best is None else (best[2], best[3])


def _on_partial_line(watches: Sequence[Watch], text: str, window: int, settled: bool) -> tuple[AnyMatch, Watch] | None:
    """The first watch that matches the unfinished line from ``window`` on."""
    first: tuple[AnyMatch, Watch] | None = None
    for watch in watches:
        # Every watch is searched, so a pattern too slow to search is reported even after a hit.
        found = _partial_match(watch, text, window, settled)
        if found and first is None:
            first = (found, watch)
    return first


def _label(watch: Watch) -> str:
    return watch.key or f"{watch.kind} pattern of `{watch.name}`"


def _partial_match(watch: Watch, text: str, start: int, settled: bool) -> AnyMatch | None:
    """A partial-line watch on ``text[start:]``; a match reaching the end waits for a pause."""
    if not watch.partial:
        return None
    found = search(watch.regex, text, start, label=_label(watch))
    # A match that reaches the end of the text could still grow with the next read.
    if found and found.end() == len(text) and not settled and watch.settle:
        return None
    return found


def _first_line_match(watch: Watch, text: str, start: int, end: int) -> AnyMatch | None:
    """The first match of the watch's regex that lies within one line of ``text[start:end]``.

    The block is searched once in C; a hit is re-run on its own line so a pattern such as
    ``a\\s+b`` cannot match across a line break.
    """
    pos = start
    while pos < end:
        found = search(watch.regex, text, pos, end, label=_label(watch))
        if found is None:
            return None
        line_start = text.rfind("\n", 0, found.start()) + 1
        line_end = text.find("\n", found.start(), end)
        if line_end < 0:
            line_end = end
        confirmed = search(watch.regex, text, line_start, line_end, label=_label(watch))
        if confirmed:
            return confirmed
        pos = line_end + 1
    return None
