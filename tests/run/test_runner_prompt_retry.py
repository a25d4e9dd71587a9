"""``prompt_retry``: a newline lost by the board's UART is typed again while the console is quiet."""

from __future__ import annotations

from harness.engine.verdict import Kind

PLAN = """
name = "dropped-newline"
silence = "4s"
timeout = "30s"

[[milestone]]
name = "prompt"
expect = '=> $'
within = "5s"

[[milestone]]
name = "version"
send = "version"
expect = '^U-Boot 2023\\.01'
prompt = '=> $'
within = "15s"
"""

# The board loses the first line ending typed, as an FU740 overrunning its 8-byte FIFO does:
# `version` sits in its line buffer until another newline comes.
SCRIPT = "put => \ndrop-newline\nexpect version\nsay U-Boot 2023.01\nput => \nhang\n"


def board_with_retry(scripted_board, every: str):
    path = scripted_board(SCRIPT)
    path.write_text(path.read_text() + f'prompt_retry = "{every}"\n')
    return path


def test_a_dropped_newline_is_recovered_and_the_retry_recorded(scripted_board, plan_file, run_plan):
    result = run_plan(plan_file(PLAN), board_with_retry(scripted_board, "1s"))
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    assert len(result.events) == 1, result.events
    assert "prompt_retry" in result.events[0] and "`version`" in result.events[0]
    # Typed once quiet for a second, well before the 4 s silence would call it a wedge.
    version = next(m for m in result.milestones if m.name == "version")
    assert 0.9 <= version.delta < 4.0, version


def test_without_prompt_retry_the_dropped_newline_is_a_wedge(scripted_board, plan_file, run_plan):
    result = run_plan(plan_file(PLAN), scripted_board(SCRIPT))
    assert result.verdict.kind is Kind.WEDGE
    assert result.events == ()


def test_retries_are_in_the_report(scripted_board, plan_file, run_plan, tmp_path):
    import json

    run_plan(plan_file(PLAN), board_with_retry(scripted_board, "1s"))
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert len(report["events"]) == 1 and report["events"][0].startswith("prompt_retry")
