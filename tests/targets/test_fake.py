"""The target that lives in Python (harness/targets/fake.py): its console stream, echo and replies,
power, and the ``[fake]`` section of a profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, TargetUnavailable, TransportClosed
from harness.model.board import Board
from harness.targets.base import Target
from harness.targets.fake import KIND, FakeTarget, FakeTransport


def test_fed_bytes_are_read_in_order_within_the_size_asked() -> None:
    transport = FakeTransport()
    transport.feed("OpenSBI")
    transport.feed(b" v1")
    assert transport.read(4, 1.0) == b"Open" and transport.read(100, 1.0) == b"SBI"
    assert transport.read(100, 1.0) == b" v1"
    assert transport.read(100, 0.01) == b""  # nothing fed: empty after the timeout


def test_the_end_comes_after_what_was_fed() -> None:
    transport = FakeTransport()
    transport.feed("last words")
    transport.end("board unplugged")
    assert transport.read(100, 1.0) == b"last words"
    with pytest.raises(TransportClosed, match="board unplugged"):
        transport.read(100, 1.0)


def test_typed_lines_are_echoed_and_answered_once_complete() -> None:
    transport = FakeTransport(lambda line: "Linux 6.6\r\n" if line == "uname -r" else None)
    transport.write(b"uname")
    transport.write(b" -r\r")
    transport.write(b"true\r")
    assert transport.sent == b"uname -r\rtrue\r"
    echoed = b"".join(iter(lambda: transport.read(100, 0.01), b""))
    assert echoed == b"uname -r\r\nLinux 6.6\r\ntrue\r\n"  # echo with the terminal's newline; no reply to `true`


def test_power_and_availability() -> None:
    target = FakeTarget("bench", boot="U-Boot 2024.01\r\n", available=False)
    assert isinstance(target, Target)
    with pytest.raises(TargetUnavailable, match="fake target bench is unavailable"):
        target.check_available()
    target.power_on()
    target.power_off()
    target.power_off()  # twice is safe
    target.power_on()
    assert (target.powered, target.power_cycles) == (True, 2)
    assert target.console().read(100, 1.0) == b"U-Boot 2024.01\r\n"
    assert target.describe() == {"kind": "fake", "name": "bench"}


def test_a_profile_gives_the_boot_text_and_the_replies() -> None:
    board = Board(
        name="b",
        path=Path("b.toml"),
        target="fake",
        newline="\n",
        variables={"v": "2024.01"},
        settings={"fake": {"boot": "U-Boot {v}\n", "replies": {"version": "v1\n"}}},
    )
    assert KIND.validate(board) == {"fake"}
    target = KIND.build(board, {})
    target.power_on()
    target.console().write(b"version\n")
    printed = b"".join(iter(lambda: target.console().read(100, 0.01), b""))
    assert printed == b"U-Boot 2024.01\nversion\r\nv1\n"


def test_a_bad_fake_section_names_the_key() -> None:
    bad = Board(name="b", path=Path("b.toml"), target="fake", settings={"fake": {"replies": {"x": 1}, "bot": ""}})
    with pytest.raises(ConfigError, match=r"^b.toml: fake.replies.x: expected a string, got 1$"):
        KIND.validate(bad)
