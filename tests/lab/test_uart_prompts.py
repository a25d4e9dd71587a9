"""Real UARTs: a kernel message printed into the middle of a prompt line must not hide the prompt.

A board's kernel logs to the same console the login prompt is on, so ``login: `` is often
followed on the same line by ``[   12.3] random: crng init done``, or even cut in two by it.
The console engine moves a message that starts mid-line in front of the line it interrupted
(harness/engine/kernel_cut_in.py), which saves both.
"""

from __future__ import annotations

from harness.engine.verdict import Kind

PLAN = """
name = "login-prompt"
silence = "2s"
timeout = "10s"

[[milestone]]
name = "banner"
expect = 'Debian GNU/Linux 12'
within = "5s"

[[milestone]]
name = "login"
expect = 'login: $'
within = "2s"
"""


def test_a_plain_prompt_matches(scripted_board, plan_file, run_plan):
    board = scripted_board("say Debian GNU/Linux 12 unmatched ttySIF0\nput unmatched login: \nhang\n")
    assert run_plan(plan_file(PLAN), board).verdict.kind is Kind.PASS


def test_prompt_followed_by_a_kernel_message_on_its_line(scripted_board, plan_file, run_plan):
    board = scripted_board(
        "say Debian GNU/Linux 12 unmatched ttySIF0\nsay unmatched login: [   12.345678] random: crng init done\nhang\n"
    )
    assert run_plan(plan_file(PLAN), board).verdict.kind is Kind.PASS


def test_prompt_cut_in_two_by_a_kernel_message(scripted_board, plan_file, run_plan):
    board = scripted_board(
        "say Debian GNU/Linux 12 unmatched ttySIF0\nsay unmatched lo[   12.345678] random: crng init done\n"
        "put gin: \nhang\n"
    )
    assert run_plan(plan_file(PLAN), board).verdict.kind is Kind.PASS
