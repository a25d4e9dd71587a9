"""harness.engine.kernel_cut_in: a kernel message cut into a prompt, and the prompt's text before it."""

from __future__ import annotations

from harness.engine.kernel_cut_in import LOOK_BACK, interrupted_prefix


def test_the_text_before_a_message_that_cut_into_a_prompt() -> None:
    assert interrupted_prefix(["unmatched lo[   12.345678] random: crng init done"]) == "unmatched lo"
    assert interrupted_prefix(["unmatched login: [   12.345678] random: crng init done"]) == "unmatched login: "


def test_messages_in_a_row_are_stepped_over() -> None:
    lines = [
        "unmatched lo[   12.345678] random: crng init done",
        "[   12.400000] EXT4-fs (vda): mounted",
        "[   12.500000] systemd[1]: started",
    ]
    assert interrupted_prefix(lines) == "unmatched lo"


def test_no_prefix_without_a_cut() -> None:
    assert interrupted_prefix([]) is None
    # A plain line last: no message cut in.
    assert interrupted_prefix(["[    1.000000] booting", "unmatched login: "]) is None
    # Only whole kernel lines: nothing was cut.
    assert interrupted_prefix(["[    1.000000] a", "[    2.000000] b"]) is None
    # Not a printk timestamp (five digits after the point).
    assert interrupted_prefix(["prompt[   12.34567] x"]) is None


def test_a_cut_further_back_than_look_back_is_unrelated() -> None:
    kernel = [f"[   {n:2d}.000000] message" for n in range(LOOK_BACK)]
    assert interrupted_prefix(["login: [   1.000000] cut", *kernel[: LOOK_BACK - 1]]) == "login: "
    assert interrupted_prefix(["login: [   1.000000] cut", *kernel]) is None
