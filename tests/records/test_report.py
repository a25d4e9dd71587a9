"""Run reports (harness/records/report.py): report.json's fields, junit.xml's verdict, the terminal
summary, and every format written into the run folder."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.engine.verdict import Kind, Verdict
from harness.model.board import Board, FallbackExit
from harness.model.plan import Plan
from harness.records.html_report import render_run
from harness.records.report import FORMATS, SCHEMA, junit_xml, report_dict, summary, write_report
from harness.records.results import MilestoneResult, RunResult

PLAN = Plan(
    name="smoke", path=Path("smoke.toml"), description="", silence=5.0, timeout=60.0, milestones=(), fails=(), resets=()
)
BOARD = Board(name="qemu-virt", path=Path("qemu-virt.toml"), target="qemu", time_scale=2.0)
BANNER = MilestoneResult("banner", 0.1234567, 0.1234567, "OpenSBI v1.3", {"version": "1.3"})
LAST = ((9.5, "U-Boot 2024.01\x1b[0m"), (10.0, "Hit any key"))


def result(kind: Kind, out_dir: Path = Path("run"), **fields: object) -> RunResult:
    defaults: dict[str, object] = {
        "plan": PLAN,
        "board": BOARD,
        "verdict": Verdict(kind, f"{kind.value} reason", last_lines=LAST if kind is not Kind.PASS else ()),
        "milestones": (BANNER,),
        "out_dir": out_dir,
        "target": {"kind": "qemu"},
        "started": "2026-12-06T05:00:00+00:00",
        "duration": 12.34567,
    }
    return RunResult(**{**defaults, **fields})  # type: ignore[arg-type]


def test_report_json_has_the_schema_the_plan_the_board_and_rounded_times() -> None:
    report = report_dict(result(Kind.WEDGE, events=("prompt retried",)))
    assert report["schema"] == SCHEMA and report["exit_code"] == 1 and report["ran_on"] == "WEDGE"
    assert report["plan"]["name"] == "smoke" and report["board"]["time_scale"] == 2.0
    assert report["duration"] == 12.346 and report["events"] == ["prompt retried"]
    assert report["milestones"] == [
        {"name": "banner", "t": 0.123457, "delta": 0.123457, "line": "OpenSBI v1.3", "captures": {"version": "1.3"}}
    ]
    assert report["verdict"]["kind"] == "wedge" and "autopsy" not in report
    json.dumps(report, allow_nan=False)  # valid JSON as written


def test_a_plan_without_a_timeout_is_null_not_infinity() -> None:
    endless = Plan(
        name="s", path=Path("s"), description="", silence=5.0, timeout=float("inf"), milestones=(), fails=(), resets=()
    )
    assert report_dict(result(Kind.PASS, plan=endless))["plan"]["timeout"] is None


@pytest.mark.parametrize(
    ("kind", "counts", "element"),
    [
        (Kind.PASS, ("0", "0", "0"), None),
        (Kind.WEDGE, ("1", "0", "0"), "failure"),
        (Kind.PANIC, ("1", "0", "0"), "failure"),
        (Kind.ERROR, ("0", "1", "0"), "error"),
        (Kind.SKIP, ("0", "0", "1"), "skipped"),
    ],
)
def test_junit_counts_the_verdict_once(kind: Kind, counts: tuple[str, str, str], element: str | None) -> None:
    suite = ET.fromstring(junit_xml(result(kind)))
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == counts
    case = suite.find("testcase")
    assert case is not None and case.get("name") == "smoke" and case.get("classname") == "qemu-virt"
    outcome = [child.tag for child in case if child.tag != "system-out"]
    assert outcome == ([] if element is None else [element])
    if element in ("failure", "error"):
        text = case.find(element).text or ""  # type: ignore[union-attr]
        assert "[    9.500000] U-Boot 2024.01\n[   10.000000] Hit any key" in text
        assert "\x1b" not in text  # the terminal's colour codes are not sent to the dashboard


def test_a_pass_on_the_fallback_is_named_so_everywhere() -> None:
    run = result(Kind.PASS, fallback_for=("unmatched", "/dev/ttyUSB1 missing"), fallback_exit=FallbackExit.SKIP)
    suite = ET.fromstring(junit_xml(run))
    case = suite.find("testcase")
    assert case is not None and case.get("name") == "smoke [on fallback qemu-virt]" and suite.get("skipped") == "1"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["fallback_for"] == "unmatched" and properties["fallback_reason"] == "/dev/ttyUSB1 missing"
    report = report_dict(run)
    assert report["exit_code"] == 125 and report["fallback_for"] == {
        "board": "unmatched",
        "reason": "/dev/ttyUSB1 missing",
    }
    text = summary(run)
    assert text.startswith("smoke: PASS on qemu-virt, fallback for unmatched: /dev/ttyUSB1 missing")
    assert 'exit 125: passed on fallback board qemu-virt, not on unmatched (its fallback_exit = "skip")' in text


def test_the_summary_shows_times_captures_and_the_last_lines_of_a_failure() -> None:
    lines = summary(result(Kind.WEDGE)).splitlines()
    assert lines[0] == "smoke on qemu-virt: WEDGE"
    assert lines[1] == "     0.123 s  (+  0.123)  banner  [version=1.3]"
    assert "  wedge reason" in lines and "  last lines:" in lines
    assert "    [     9.500] U-Boot 2024.01" in lines  # colour codes dropped
    assert lines[-1] == "  report: run/report.json (run/report.html)"
    assert "last lines" not in summary(result(Kind.PASS))


def test_every_format_is_written_into_the_run_folder(runs_folder: Path) -> None:
    write_report(result(Kind.STALL, out_dir=runs_folder))
    assert sorted(p.name for p in runs_folder.iterdir()) == sorted(name for name, _ in FORMATS)
    assert json.loads((runs_folder / "report.json").read_text())["verdict"]["kind"] == "stall"
    assert ET.parse(runs_folder / "junit.xml").getroot().get("failures") == "1"
    assert "stall" in (runs_folder / "report.html").read_text()


def test_a_guest_clock_run_says_so_in_junit_and_html() -> None:
    # The emulator's times are its own seconds; the duration is the host's.
    banner = MilestoneResult("banner", 0.25, 0.25, "OpenSBI v1.3", host_t=1.5)
    run = result(Kind.PASS, milestones=(banner,), clock="guest")
    suite = ET.fromstring(junit_xml(run))
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["clock"] == "guest"
    case = suite.find("testcase")
    assert case is not None and case.findtext("system-out") == "banner: 0.250 guest s (host 1.500 s)"
    page = render_run(report_dict(run), [])
    assert 'id="clock"' in page and "guest seconds" in page and "0.250 s (+0.250) [host 1.500 s]" in page
    # A run on the host's clock says nothing of a guest clock.
    host = result(Kind.PASS)
    assert ET.fromstring(junit_xml(host)).find("testcase").findtext("system-out") == "banner: 0.123 s"  # type: ignore[union-attr]
    assert 'id="clock"' not in render_run(report_dict(host), [])
