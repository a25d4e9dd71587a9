"""The runner, its verdicts and the pytest session on a FakeTarget: no process, no firmware, milliseconds."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.replay import replayable
from harness.engine.verdict import Kind, Verdict
from harness.errors import BoardLocked
from harness.model.board import Board, resolve
from harness.model.plan import FailPattern, Milestone, Plan, load_plan, standard_fails
from harness.pytest_plugin.live_console import Session
from harness.records.report import summary
from harness.records.run_folder import load_run
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.run.status import StatusEvent, StatusKind
from harness.targets.fake import FakeTarget, FakeTransport
from tests.model.test_sdcard import card_for

BOOT = "OpenSBI v1.2\r\nPlatform Name : fake\r\nU-Boot 2023.01\r\nHit any key to stop autoboot\r\n=> "


def plan(*milestones: Milestone, silence: float = 0.5, timeout: float = 20.0) -> Plan:
    return Plan(
        name="fake-plan",
        path=Path("fake-plan.toml"),
        description="",
        silence=silence,
        timeout=timeout,
        milestones=milestones,
        fails=standard_fails(),
        resets=(re.compile("OpenSBI v"),),
    )


def step(name: str, pattern: str, within: float = 5.0, **kwargs: Any) -> Milestone:
    return Milestone(name=name, expect=re.compile(pattern, re.MULTILINE), within=within, **kwargs)


BOARD = Board(name="fake-board", path=Path("fake-board.toml"), target="fake")


def run(tmp_path: Path, target: FakeTarget, the_plan: Plan) -> tuple[Runner, Kind]:
    runner = Runner(prepare(the_plan, BOARD), out_dir=tmp_path / "run", target=target)
    result = runner.run()
    return runner, result.verdict.kind


def test_a_boot_that_prints_every_milestone_passes_and_writes_the_report(tmp_path: Path) -> None:
    the_plan = plan(
        step("opensbi", r"OpenSBI v(?P<version>\S+)"),
        step("uboot", r"U-Boot 20\d\d"),
        step("prompt", r"=> $"),
    )
    runner, kind = run(tmp_path, FakeTarget(boot=BOOT), the_plan)
    assert kind is Kind.PASS
    assert [m.name for m in runner.reached] == ["opensbi", "uboot", "prompt"]
    assert runner.reached[0].captures == {"version": "1.2"}
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
    assert "U-Boot 2023.01" in (tmp_path / "run" / "console.log").read_text()


def test_silence_after_a_milestone_is_a_wedge_naming_the_last_line(tmp_path: Path) -> None:
    the_plan = plan(step("opensbi", r"OpenSBI"), step("linux", r"Linux version"), silence=0.3)
    start = time.monotonic()
    runner, kind = run(tmp_path, FakeTarget(boot="OpenSBI v1.2\r\nstarting kernel\r\n"), the_plan)
    assert kind is Kind.WEDGE
    assert runner.result is not None
    verdict = runner.result.verdict
    assert verdict.milestone == "opensbi" and verdict.waiting_for == "linux"
    assert verdict.key_line == "starting kernel"
    # Declared after the silence, long before the 5 s deadline (generous bound: a loaded machine).
    assert time.monotonic() - start < 4.0


def test_the_status_callback_gets_milestones_and_waiting_lines_told_apart_by_kind(tmp_path: Path) -> None:
    events: list[StatusEvent] = []
    the_plan = plan(step("opensbi", r"OpenSBI"), step("linux", r"Linux version"), silence=0.6)
    runner = Runner(prepare(the_plan, BOARD), out_dir=tmp_path / "run", target=FakeTarget(boot="OpenSBI v1.2\r\n"))
    runner.status = events.append
    assert runner.run().verdict.kind is Kind.WEDGE
    kinds = {event.kind for event in events}
    assert StatusKind.MILESTONE in kinds and StatusKind.WAITING in kinds
    milestones = [event.text for event in events if event.kind is StatusKind.MILESTONE]
    assert len(milestones) == 1 and milestones[0].endswith("s] reached opensbi")
    # The kind alone says which events are the periodic line; the text stays the one people read.
    assert all(
        (" -> waiting for " in event.text) == (event.kind is StatusKind.WAITING) and str(event) == event.text
        for event in events
    )


def test_output_that_keeps_coming_past_the_deadline_is_a_stall(tmp_path: Path) -> None:
    target = FakeTarget(boot="OpenSBI v1.2\r\n")
    stop = threading.Event()

    def chatter() -> None:
        while not stop.wait(0.05):
            target.transport.feed("retrying dhcp\r\n")

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        runner, kind = run(tmp_path, target, plan(step("opensbi", "OpenSBI"), step("linux", "Linux", within=0.6)))
    finally:
        stop.set()
        thread.join()
    assert kind is Kind.STALL and runner.result is not None
    # The reason says output was still coming, and how much came since the last milestone.
    assert re.search(r"output was still coming \(\d+ lines since `opensbi`", runner.result.verdict.reason)


def test_a_panic_line_is_a_panic_with_its_reason_and_the_lines_after_it(tmp_path: Path) -> None:
    boot = "OpenSBI v1.2\r\nKernel panic - not syncing: VFS: Unable to mount root fs\r\nCPU: 0 PID: 1\r\n"
    runner, kind = run(tmp_path, FakeTarget(boot=boot), plan(step("opensbi", "OpenSBI"), step("login", "login:")))
    assert kind is Kind.PANIC
    assert runner.result is not None
    verdict = runner.result.verdict
    assert "VFS: Unable to mount root fs" in verdict.reason
    assert verdict.captures["reason"] == "VFS: Unable to mount root fs"
    assert any("CPU: 0 PID: 1" in line for _t, line in verdict.last_lines)


def test_the_banner_coming_back_after_two_milestones_is_a_reset(tmp_path: Path) -> None:
    target = FakeTarget(boot="OpenSBI v1.2\r\nU-Boot 2023.01\r\n", reply=lambda line: "OpenSBI v1.2\r\n")
    the_plan = plan(step("opensbi", "OpenSBI"), step("uboot", "U-Boot"), step("linux", "Linux", send="boot"))
    _runner, kind = run(tmp_path, target, the_plan)
    assert kind is Kind.RESET


def test_a_console_that_ends_is_an_error_and_an_absent_target_a_skip(tmp_path: Path) -> None:
    target = FakeTarget(boot="OpenSBI v1.2\r\n")
    target.transport.end("fake board unplugged")
    _runner, kind = run(tmp_path, target, plan(step("opensbi", "OpenSBI"), step("linux", "Linux")))
    assert kind is Kind.ERROR
    _runner, kind = run(tmp_path / "absent", FakeTarget(available=False), plan(step("opensbi", "OpenSBI")))
    assert kind is Kind.SKIP


def test_a_check_whose_prompt_returns_without_the_expected_output_fails(tmp_path: Path) -> None:
    target = FakeTarget(boot=BOOT, reply=lambda line: "bad\r\n=> ")
    the_plan = plan(
        step("prompt", r"=> $"),
        step("version", r"U-Boot 2023", send="version", prompt=re.compile(r"=> $")),
    )
    runner, kind = run(tmp_path, target, the_plan)
    assert kind is Kind.FAIL
    assert runner.result is not None and "the prompt came back without" in runner.result.verdict.reason


def shell(line: str) -> str | None:
    """A tiny shell: `seq N; echo MARKER$?` prints 1..N and the marker with status 0."""
    match = re.fullmatch(r"seq (\d+); echo (\S+)\$\?", line)
    if not match:
        return None
    numbers = "".join(f"{i}\r\n" for i in range(1, int(match.group(1)) + 1))
    return f"{numbers}{match.group(2)}0\r\n# "


def test_session_run_keeps_all_of_a_long_output(tmp_path: Path) -> None:
    """Longer than the console's 200-line ring: the output's first lines must not be lost."""
    runner = Runner(
        prepare(plan(silence=2.0), BOARD), out_dir=tmp_path / "run", target=FakeTarget(boot="# ", reply=shell)
    )
    session = Session(runner)
    with runner.lifecycle():
        result = session.run("seq 300", within=10.0)
        runner.conclude(session.failure or Verdict(Kind.PASS, "python test session"))
    assert result.status == 0
    assert result.output.splitlines() == [str(i) for i in range(1, 301)]


def test_a_deadline_on_a_quiet_console_says_since_when_it_was_quiet_not_that_output_continues(
    tmp_path: Path,
) -> None:
    # Issue 24, item 1: a board that printed U-Boot's prompt and then nothing, on a plan whose
    # silence (3 s) is longer than the first milestone's deadline (1.5 s): the deadline passes first.
    target = FakeTarget()
    later = threading.Timer(0.2, lambda: target.transport.feed("U-Boot 2023.01\r\nDRAM: 16 GiB\r\n=> "))
    later.start()
    runner, kind = run(tmp_path, target, plan(step("spl", r"U-Boot SPL", within=1.5), silence=3.0))
    later.join()
    assert kind is Kind.STALL
    assert runner.result is not None
    reason = runner.result.verdict.reason
    assert "output continues" not in reason and "still coming" not in reason, reason
    assert "`spl` did not come within its 1.5 s deadline" in reason, reason
    # What the console did: how much since power-on, and since when it was quiet.
    assert "2 lines and 3 characters of an unfinished line since power-on" in reason, reason
    quiet_at = re.search(r"went quiet at (\d+\.\d) s \((\d+\.\d) s before the deadline, under the 3 s silence", reason)
    assert quiet_at is not None, reason
    assert float(quiet_at.group(1)) < 1.0 and float(quiet_at.group(2)) > 0.5, reason
    # report.html's timeline draws the quiet stretch hatched, not as output still coming.
    page = (tmp_path / "run" / "report.html").read_text()
    assert 'class="bar quiet"' in page and "stall, quiet " in page


def test_a_fail_pattern_of_kind_fail_is_a_test_failure_named_by_its_line(tmp_path: Path) -> None:
    # Issue 24, item 9: a test program's failure is not a panic, and the regex is no name.
    hbtest = FailPattern("", re.compile(r"SEED: FAIL (?P<reason>.*)", re.MULTILINE), kind=Kind.FAIL)
    the_plan = replace(plan(step("opensbi", "OpenSBI"), step("done", "HB_EXIT:0")), fails=(hbtest,))
    runner, kind = run(tmp_path, FakeTarget(boot="OpenSBI v1.2\r\nSEED: FAIL amoswap-cow\r\n"), the_plan)
    assert kind is Kind.FAIL and runner.result is not None
    verdict = runner.result.verdict
    assert "(?P<" not in verdict.reason and "SEED: FAIL amoswap-cow" in verdict.reason, verdict.reason
    assert verdict.captures == {"reason": "amoswap-cow"}
    summary_text = summary(runner.result)
    assert "(?P<" not in summary_text and summary_text.splitlines()[0].endswith("FAIL")
    # A named pattern is called by its name; the standard Oops pattern is an oops, not a panic.
    oops_boot = "OpenSBI v1.2\r\nOops - BUG: bad things [#1]\r\n"
    runner, kind = run(tmp_path / "oops", FakeTarget(boot=oops_boot), plan(step("opensbi", "OpenSBI"), step("x", "y")))
    assert kind is Kind.OOPS and runner.result is not None
    assert runner.result.verdict.reason.startswith("oops: BUG: bad things [#1] after milestone `opensbi`")


class LockedTarget(FakeTarget):
    """A board another run holds: its console cannot be taken."""

    def console(self) -> FakeTransport:
        raise BoardLocked("board fake-board (/dev/ttyUSB1) is in use by pid 4242 (nightly-boot)")


def test_a_run_refused_on_a_locked_board_writes_nothing(tmp_path: Path) -> None:
    # Issue 24, item 2: the refusal is not a test error for a CI dashboard to count.
    runner = Runner(prepare(plan(step("opensbi", "OpenSBI")), BOARD), out_dir=tmp_path / "run", target=LockedTarget())
    with pytest.raises(BoardLocked, match="in use by pid 4242"):
        runner.run()
    assert not (tmp_path / "run").exists()
    # A folder given that already existed stays, emptied of what the refused run wrote.
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "notes.txt").write_text("mine")
    runner = Runner(prepare(plan(step("opensbi", "OpenSBI")), BOARD), out_dir=tmp_path / "given", target=LockedTarget())
    with pytest.raises(BoardLocked):
        runner.run()
    assert sorted(p.name for p in (tmp_path / "given").iterdir()) == ["notes.txt"]


def test_a_fallback_whose_card_was_built_for_the_other_board_is_an_error_before_it_boots(tmp_path: Path) -> None:
    # The Unmatched's card given to the Unmatched: unplugged, it falls back to QEMU's FU540
    # (qemu-sifive-u-sd), which that card's SPL would not bring up. The pre-boot check judged the
    # serial board (no machine to compare); the fallback is checked when the run falls back.
    card = card_for(tmp_path, "unmatched")
    images = [("sdcard", str(card))]
    board = load_board("unmatched", overrides=[("serial.port", str(tmp_path / "no-such-tty"))], images=images)
    setup = prepare(load_plan(resolve("unmatched-boot", "testplans")), board, images=images)
    result = Runner(setup, out_dir=tmp_path / "run").run()
    assert result.board.name == "qemu-sifive-u-sd"
    assert result.verdict.kind is Kind.ERROR, result.verdict
    assert "fallback qemu-sifive-u-sd: " in result.verdict.reason, result.verdict
    assert "was built for the unmatched" in result.verdict.reason
    assert json.loads((tmp_path / "run" / "report.json").read_text())["verdict"]["kind"] == "error"
    # Nothing was printed: there is no console to judge again (replay says why, not "wedge").
    why = replayable(load_run(tmp_path / "run"))
    assert why is not None and "failed before its console said anything" in why
