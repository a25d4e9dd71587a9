"""The ``manual`` power backend: asks the person at a terminal, refuses when nobody can answer."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from harness.errors import PowerError
from harness.power.manual import ManualSwitch


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A real pseudo-terminal: the switch reads its answers from the terminal's side."""
    controller, side = os.openpty()
    stdin = open(side, encoding="utf-8", closefd=True)  # noqa: SIM115 (closed below)
    try:
        yield stdin, controller
    finally:
        stdin.close()
        os.close(controller)


def test_manual_backend_refuses_without_a_terminal():
    switch = ManualSwitch("unmatched", stdin=io.StringIO("\n"), stdout=io.StringIO())
    with pytest.raises(PowerError, match="stdin is not a terminal"):
        switch.on()


def test_each_action_is_one_question_answered_by_enter(terminal) -> None:
    stdin, controller = terminal
    shown = io.StringIO()
    switch = ManualSwitch("unmatched", stdin=stdin, stdout=shown)
    os.write(controller, b"\n\n\n")
    switch.off()
    switch.on()
    switch.cycle(2.5)
    questions = [line.rstrip() for line in shown.getvalue().strip().splitlines()]
    assert questions == [
        "hartbeat: switch OFF the board unmatched, then press Enter",
        "hartbeat: switch ON the board unmatched, then press Enter",
        "hartbeat: power-cycle (off, wait 2.5 s, on) the board unmatched, then press Enter",
    ]
    assert switch.describe() == {"backend": "manual"}


def test_end_of_input_on_the_terminal_is_no_answer(terminal) -> None:
    stdin, controller = terminal
    os.write(controller, b"\x04")  # Ctrl-D at the start of a line: the terminal's end of input
    with pytest.raises(PowerError, match=r"no answer \(end of input\) when asked to switch ON"):
        ManualSwitch("unmatched", stdin=stdin, stdout=io.StringIO()).on()
