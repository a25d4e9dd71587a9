"""The line matcher alone, no threads and no files: line endings, recent lines, searches."""

from __future__ import annotations

import re

import pytest

from harness.engine import matcher as matcher_module
from harness.engine.matcher import LineEndings, Matched, Matcher, RecentLines, Watch
from harness.engine.patterns import PatternTooSlow


def watch(pattern: str, name: str = "", kind: str = "expect", **options: bool) -> Watch:
    return Watch(name or pattern, kind, re.compile(pattern), key=f"plan.toml: {name or pattern}", **options)  # type: ignore[arg-type]


def fed(*pieces: tuple[float, str]) -> Matcher:
    matcher = Matcher()
    for t, text in pieces:
        matcher.take(text, t)
    return matcher


def found(matcher: Matcher, watches: list[Watch], settled: bool = True) -> Matched:
    hit = matcher.search(watches, settled=settled)
    assert hit is not None
    return hit


# -- line endings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "text"),
    [
        ([b"a\r\nb\n"], "a\nb\n"),
        # A tty in cooked mode on the way adds a second \r.
        ([b"a\r\r\nb\r\r\n"], "a\nb\n"),
        # Some consoles end lines with a bare \r.
        ([b"a\rb\r\n"], "a\nb\n"),
        # \r\n split across two reads is one line ending, not two.
        ([b"a\r", b"\nb"], "a\nb"),
        ([b"a\r\r", b"\nb"], "a\nb"),
        ([b"a\r", b"b"], "a\nb"),
        # UTF-8 split across reads is joined; bytes that are not UTF-8 are replaced.
        ([b"\xc3", b"\xa9t\xc3\xa9\n"], "\u00e9t\u00e9\n"),
        ([b"\xff ok\n"], "\ufffd ok\n"),
    ],
)
def test_line_endings_become_newlines_across_reads(chunks: list[bytes], text: str) -> None:
    endings = LineEndings()
    assert "".join(endings.decode(chunk) for chunk in chunks) == text


def test_a_trailing_carriage_return_is_held_until_the_next_read() -> None:
    endings = LineEndings()
    assert endings.decode(b"login:\r") == "login:"
    assert endings.decode(b"\n") == "\n"


# -- recent lines ---------------------------------------------------------------------------


def test_a_line_split_across_chunks_is_one_line_stamped_when_it_completed() -> None:
    lines = RecentLines()
    lines.add("Linux ver", 1.0)
    lines.add("sion 6.1\nStart", 2.0)
    lines.add("ing init\n", 3.0)
    lines.add("login: ", 4.0)
    lines.add("root", 5.0)
    assert lines.total == 2
    # The unfinished line (a prompt) has the time it started.
    assert lines.last(10) == [(2.0, "Linux version 6.1"), (3.0, "Starting init"), (4.0, "login: root")]
    assert lines.open_length == len("login: root")
    lines.finish()
    assert lines.last(10)[-1] == (4.0, "login: root") and lines.open_length == 0 and lines.total == 2


def test_text_after_finish_starts_a_new_unfinished_line_from_zero() -> None:
    # finish() moves the unfinished line to the ring; its length must not carry over to the
    # next text (the matcher's long-line bound reads it).
    lines = RecentLines()
    lines.add("login: root", 1.0)
    lines.finish()
    lines.add("ab", 2.0)
    assert lines.partial == "ab" and lines.open_length == 2


def test_the_ring_keeps_the_newest_lines_and_numbers_stay_absolute() -> None:
    lines = RecentLines(size=3)
    lines.add("".join(f"line {n}\n" for n in range(10)), 0.5)
    assert lines.total == 10
    assert lines.newest(2) == ["line 8", "line 9"]
    assert lines.around(8, before=2, after=1) == [(0.5, "line 7"), (0.5, "line 8"), (0.5, "line 9")]
    # Lines the ring no longer holds are simply not there.
    assert lines.around(3, before=2, after=1) == []


def test_a_capture_gets_every_line_however_many_and_the_prompt_at_its_end() -> None:
    lines = RecentLines(size=2)
    lines.add("before\n", 0.0)
    captured = lines.start_capture()
    lines.add("".join(f"{n}\n" for n in range(5)) + "# ", 1.0)
    lines.end_capture(captured)
    lines.add("after\n", 2.0)
    assert [text for _t, text in captured] == ["0", "1", "2", "3", "4", "# "]


def test_a_line_longer_than_the_limit_keeps_its_tail_marked_as_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "LONG_LINE", 100)
    monkeypatch.setattr(matcher_module, "LONG_LINE_KEEP", 50)
    lines = RecentLines()
    lines.add("x" * 80, 1.0)
    lines.add("y" * 80, 2.0)
    assert lines.partial_cut and lines.partial == "y" * 50
    assert lines.open_length == 160
    assert lines.last(1) == [(1.0, "\u2026" + "y" * 50)]
    lines.add("z\n", 3.0)
    assert lines.last(1) == [(3.0, "\u2026" + "y" * 50 + "z")]
    assert not lines.partial_cut and lines.open_length == 0


# -- searching ------------------------------------------------------------------------------


def test_a_line_split_across_chunks_matches_once_whole_at_the_time_it_started() -> None:
    matcher = fed((1.0, "Linux ver"), (2.0, "sion 6.1.0 (gcc"))
    version = watch(r"Linux version (?P<v>\S+) \(gcc\)$", partial=False)
    assert matcher.search([version], settled=True) is None
    matcher.take(")\n", 3.0)
    hit = found(matcher, [version])
    assert (hit.groups, hit.line, hit.t, hit.line_no) == ({"v": "6.1.0"}, "Linux version 6.1.0 (gcc)", 1.0, 0)
    # The text is consumed: the same line does not match twice.
    assert matcher.search([version], settled=True) is None


def test_no_match_across_a_line_break() -> None:
    matcher = fed((0.0, "alpha\nbeta\n"))
    assert matcher.search([watch(r"alpha\s+beta")], settled=True) is None
    assert matcher.pending == ""


def test_the_earliest_line_wins_and_on_one_line_the_earlier_watch() -> None:
    panic = watch("Kernel panic", kind="fail")
    login = watch("login:")
    matcher = fed((0.0, "ok login: soon\nKernel panic - login: \nlogin: \n"))
    assert found(matcher, [panic, login]).watch is login
    hit = found(matcher, [panic, login])
    assert (hit.watch, hit.line_no) == (panic, 1)
    # Consumed only up to the match: the later pattern on the same line is still found.
    assert (found(matcher, [panic, login]).line_no, found(matcher, [panic, login]).line_no) == (1, 2)


def test_an_unfinished_prompt_matches_once_the_console_has_settled() -> None:
    matcher = fed((4.0, "Hit any key to stop autoboot: "), (4.5, "3"))
    autoboot = watch(r"autoboot: +(?P<n>\d+)$")
    assert matcher.search([autoboot], settled=False) is None
    hit = found(matcher, [autoboot], settled=True)
    assert hit.groups == {"n": "3"} and hit.t == 4.0


def test_a_watch_answered_by_typing_need_not_wait_and_a_complete_line_watch_ignores_prompts() -> None:
    matcher = fed((0.0, "=> "))
    assert matcher.search([watch(r"=> $", partial=False)], settled=True) is None
    assert found(matcher, [watch(r"=> $", settle=False)], settled=False).line == "=> "


def test_on_an_unfinished_line_the_earlier_watch_wins() -> None:
    uboot, shell = watch(r"=> $", name="uboot"), watch(r"> $", name="shell")
    assert found(fed((0.0, "=> ")), [uboot, shell]).watch is uboot
    assert found(fed((0.0, "=> ")), [shell, uboot]).watch is shell


def test_a_prompt_cut_by_a_kernel_message_matches_once_on_the_joined_text() -> None:
    login = watch(r"login: $", kind="prompt")
    matcher = fed(
        (1.0, "Debian GNU/Linux 12 unmatched ttySIF0\n\nunmatched lo"),
        (1.1, "[   12.345678] random: crng init done\n"),
        (1.2, "[   12.400000] another message\ngin: "),
    )
    hit = found(matcher, [login])
    assert hit.line == "unmatched login: "
    assert hit.line_no == matcher.lines.total == 4
    assert hit.t == 1.2
    # Once per interruption: the same open line is not matched again.
    assert matcher.search([login], settled=True) is None
    # The lines themselves stay as printed.
    assert matcher.lines.newest(2) == [
        "unmatched lo[   12.345678] random: crng init done",
        "[   12.400000] another message",
    ]


def test_a_whole_prompt_before_the_message_matches_once() -> None:
    login = watch(r"login: $", kind="prompt")
    matcher = fed((1.0, "unmatched login: [   12.345678] random: crng init done\n"))
    hit = found(matcher, [login])
    assert (hit.line, hit.t) == ("unmatched login: ", 1.0)
    assert matcher.search([login], settled=True) is None


def test_a_kernel_message_at_a_line_start_is_not_a_cut() -> None:
    matcher = fed((0.0, "[    1.000000] Freeing unused kernel memory\ngin: "))
    assert matcher.search([watch(r"login: $")], settled=True) is None


def test_text_from_before_power_on_does_not_match() -> None:
    matcher = fed((0.0, "old boot\nlogin: "))
    matcher.restart()
    assert matcher.search([watch("login:")], settled=True) is None
    matcher.take("\nU-Boot\n", 1.0)
    hit = found(matcher, [watch("U-Boot")])
    assert (hit.line_no, hit.t) == (2, 1.0)


def test_pending_text_is_bounded_while_nobody_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "PENDING_LIMIT", 1000)
    matcher = Matcher()
    for n in range(300):
        matcher.take(f"line {n:04d}\n", float(n))
    assert 900 <= len(matcher.pending) <= 1000
    # Whole lines go, oldest first, and numbers and times still fit what is left.
    assert matcher.pending.startswith("line ")
    hit = found(matcher, [watch(r"line 0199"), watch(r"line 0299")])
    assert (hit.watch.name, hit.line_no, hit.t) == ("line 0299", 299, 299.0)


def test_a_pattern_too_slow_to_search_names_where_it_was_written() -> None:
    slow = Watch("slow", "expect", re.compile(r"(a|aa)+$"), key="plan.toml: milestone[0].expect")
    matcher = fed((0.0, "a" * 60 + "!\n"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("harness.engine.patterns.SEARCH_BUDGET", 0.05)
        with pytest.raises(PatternTooSlow, match=re.escape("plan.toml: milestone[0].expect")):
            matcher.search([slow], settled=True)
