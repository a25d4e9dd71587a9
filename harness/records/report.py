"""Run reports: ``report.json`` (schema ``hartbeat.report/1``), ``junit.xml``, ``report.html`` and the
terminal summary. Each file a run writes is one entry of :data:`FORMATS`."""

from __future__ import annotations

import functools
import json
import math
import platform
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import metadata
from typing import Any

import harness
from harness.autopsy.record import autopsy_to_json
from harness.autopsy.render import autopsy_lines
from harness.engine.text import printable, printable_tree
from harness.engine.verdict import Kind
from harness.records.html_report import LOG_LINE_CHARS, render_run
from harness.records.results import RunResult
from harness.records.run_folder import LOG, read_log

SCHEMA = "hartbeat.report/1"


@functools.cache
def versions() -> dict[str, str]:
    """Versions of the harness and the libraries that touch the console (looked up once)."""
    found = {"hartbeat": harness.__version__, "python": platform.python_version()}
    for package in ("pexpect", "pyserial", "paramiko"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def report_dict(result: RunResult) -> dict[str, Any]:
    """The report as a JSON-ready dictionary, console text made printable."""
    report = {
        "schema": SCHEMA,
        "plan": {
            "name": result.plan.name,
            "path": str(result.plan.path),
            "description": result.plan.description,
            "silence": result.plan.silence,
            # A pytest console session has no overall timeout (inf is not JSON).
            "timeout": result.plan.timeout if math.isfinite(result.plan.timeout) else None,
            # `run --until`: the milestone the plan was cut after (a replay cuts it the same way).
            "until": result.plan.until,
        },
        "board": {
            "name": result.board.name,
            "path": str(result.board.path),
            "target": result.board.target,
            # The plan's limits above are multiplied by it; calibrate and replay divide it out.
            "time_scale": result.board.time_scale,
        },
        "fallback": result.fallback,
        # Which board really ran and why: a lab's CI must not go green on QEMU unnoticed.
        "ran_on": result.ran_on,
        "fallback_for": (
            None if result.fallback_for is None else {"board": result.fallback_for[0], "reason": result.fallback_for[1]}
        ),
        "fallback_exit": result.fallback_exit.value,
        # What `hartbeat run` exits with: a pass on the fallback is 125 with fallback_exit = "skip".
        "exit_code": result.exit_code,
        "events": list(result.events),
        # What `t`, `at` and the plan's limits count: the target's guest seconds or the host's.
        "clock": result.clock,
        "target": result.target,
        "started": result.started,
        "duration": round(result.duration, 3),
        "verdict": result.verdict.as_dict(),
        "milestones": [
            {
                "name": m.name,
                "t": round(m.t, 6),
                "delta": round(m.delta, 6),
                **({} if m.host_t is None else {"host_t": round(m.host_t, 6)}),
                "line": m.line,
                "captures": m.captures,
            }
            for m in result.milestones
        ],
        "console": {"raw": "console.raw", "log": "console.log"},
        "versions": dict(versions()),
    }
    if result.autopsy is not None:
        report["autopsy"] = autopsy_to_json(result.autopsy)
    return printable_tree(report)  # type: ignore[no-any-return]


def junit_xml(result: RunResult) -> str:
    """A JUnit document with one test case for the plan, so CI dashboards show the verdict."""
    verdict = result.verdict
    reason = printable(verdict.reason)
    skipped = verdict.kind is Kind.SKIP or result.skipped_for_fallback
    suite = ET.Element(
        "testsuite",
        name=f"hartbeat.{result.board.name}",
        tests="1",
        failures="1" if verdict.kind not in (Kind.PASS, Kind.SKIP, Kind.ERROR) else "0",
        errors="1" if verdict.kind is Kind.ERROR else "0",
        skipped="1" if skipped else "0",
        time=f"{result.duration:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="board", value=result.board.name)
    if result.fallback_for is not None:
        ET.SubElement(properties, "property", name="fallback", value=printable(result.board.name))
        ET.SubElement(properties, "property", name="fallback_for", value=printable(result.fallback_for[0]))
        ET.SubElement(properties, "property", name="fallback_reason", value=printable(result.fallback_for[1]))
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{result.board.name}",
        # The name is what a dashboard lists: a run on the fallback must not pass for one on the board.
        name=result.plan.name
        if result.fallback_for is None
        else f"{result.plan.name} [on fallback {result.board.name}]",
        time=f"{result.duration:.3f}",
    )
    details = "\n".join(f"[{t:12.6f}] {printable(line)}" for t, line in verdict.last_lines)
    if result.autopsy is not None:
        # CI dashboards show this text: where the harts were belongs beside the last lines.
        details += "\n" + "\n".join(printable(line) for line in autopsy_lines(result.autopsy, ""))
    if verdict.kind is Kind.SKIP:
        ET.SubElement(case, "skipped", message=reason)
    elif result.skipped_for_fallback:
        ET.SubElement(case, "skipped", message=printable(fallback_skip_text(result)))
    elif verdict.kind is Kind.ERROR:
        ET.SubElement(case, "error", message=reason, type=verdict.kind.value).text = details
    elif verdict.kind is not Kind.PASS:
        ET.SubElement(case, "failure", message=reason, type=verdict.kind.value).text = details
    ET.SubElement(properties, "property", name="clock", value=result.clock)
    # On a guest clock the times are the target's own seconds, not the host's the case's `time` counts.
    unit = "guest s" if result.clock == "guest" else "s"
    milestones = "\n".join(
        f"{m.name}: {m.t:.3f} {unit}" + (f" (host {m.host_t:.3f} s)" if m.host_t is not None else "")
        for m in result.milestones
    )
    ran_on = printable(result.ran_on) + "\n" if result.fallback_for else ""
    ET.SubElement(case, "system-out").text = ran_on + milestones
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def fallback_skip_text(result: RunResult) -> str:
    """Why a pass on the fallback board counts as a skip."""
    asked = result.fallback_for[0] if result.fallback_for else "?"
    return f'passed on fallback board {result.board.name}, not on {asked} (its fallback_exit = "skip")'


def html_page(result: RunResult) -> str:
    """The run's ``report.html``: the report and the console log as written so far."""
    lines = read_log(result.out_dir / LOG, LOG_LINE_CHARS)
    return render_run(report_dict(result), [(t, printable(line)) for t, line in lines])


# Every file a run writes besides the console logs: name and how to render it from the result.
FORMATS: tuple[tuple[str, Callable[[RunResult], str]], ...] = (
    ("report.json", lambda result: json.dumps(report_dict(result), indent=2) + "\n"),
    ("junit.xml", lambda result: junit_xml(result) + "\n"),
    ("report.html", html_page),
)


def write_report(result: RunResult) -> None:
    """Write every format of :data:`FORMATS` into the run folder."""
    for name, render in FORMATS:
        (result.out_dir / name).write_text(render(result), encoding="utf-8")


def summary(result: RunResult) -> str:
    """The terminal summary: verdict, milestone times, and the last lines for a failure."""
    verdict = result.verdict
    if result.fallback_for is None:
        out = [f"{result.plan.name} on {result.board.name}: {verdict.kind.value.upper()}"]
    else:
        out = [f"{result.plan.name}: {printable(result.ran_on)}"]
    if result.fallback:
        out.append(f"  note: {result.fallback}")
    if result.skipped_for_fallback:
        out.append(f"  exit 125: {printable(fallback_skip_text(result))}")
    if result.clock == "guest":
        out.append("  times are the target's guest seconds (its own clock); host seconds in brackets")
    for event in result.events:
        out.append(f"  note: {event}")
    for m in result.milestones:
        captured = " ".join(f"{k}={v}" for k, v in m.captures.items())
        host = "" if m.host_t is None else f"  (host {m.host_t:.3f} s)"
        out.append(f"  {m.t:8.3f} s  (+{m.delta:7.3f})  {m.name}" + (f"  [{captured}]" if captured else "") + host)
    if not verdict.passed:
        out.append(f"  {printable(verdict.reason)}")
        if verdict.kind is not Kind.SKIP:
            out.append(f"  signature: {verdict.signature}")
            if verdict.last_lines:
                out.append("  last lines:")
                out.extend(f"    [{t:10.3f}] {printable(line)}" for t, line in verdict.last_lines)
    if result.autopsy is not None:
        out.extend(printable(line) for line in autopsy_lines(result.autopsy))
    out.append(f"  report: {result.out_dir / 'report.json'} ({result.out_dir / 'report.html'})")
    return "\n".join(out)
