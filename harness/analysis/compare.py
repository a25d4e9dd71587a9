"""``hartbeat compare``: one plan on several targets (or several recorded runs), side by side.

A row per milestone, a column per target: the time it was reached, or the verdict where that
target stopped. The first milestone some targets reach and others do not is the divergence,
shown with each side's last lines at that point: "works on QEMU, hangs on the board" as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.autopsy.render import autopsy_lines
from harness.records.html_report import autopsy_section, escape, page, timeline, timeline_span
from harness.records.run_folder import RecordedRun

# Lines of each side shown at the divergence.
SIDE_LINES = 8


@dataclass(frozen=True)
class Column:
    """One target's run, under the label shown as its column heading."""

    label: str
    run: RecordedRun


@dataclass(frozen=True)
class Divergence:
    """Where the columns part: after ``milestone`` (the last one all reached, or ``power-on``),
    ``next`` is reached by some and not others; ``lines`` is what each showed up to there."""

    milestone: str
    next: str
    reached: tuple[bool, ...]
    lines: tuple[tuple[tuple[float, str], ...], ...]


@dataclass(frozen=True)
class Comparison:
    """The table and the verdict of a comparison."""

    columns: tuple[Column, ...]
    rows: tuple[str, ...]
    divergence: Divergence | None

    @property
    def agree(self) -> bool:
        """Every target reached the same milestones and ended with the same verdict kind."""
        kinds = {column.run.kind for column in self.columns}
        return self.divergence is None and len(kinds) == 1


def _row_names(columns: Sequence[Column]) -> tuple[str, ...]:
    names: list[str] = []
    for column in columns:
        plan_rows = [m.name for m in column.run.milestones]
        waiting = column.run.verdict.get("waiting_for")
        for name in [*plan_rows, *([waiting] if waiting else [])]:
            if name not in names:
                names.append(name)
    return tuple(names)


def _lines_before(run: RecordedRun, milestone: str) -> tuple[tuple[float, str], ...]:
    """A column's last lines at ``milestone``: up to where it reached it, or its verdict's lines."""
    reached = next((m for m in run.milestones if m.name == milestone), None)
    if reached is None:
        lines = [(float(item["t"]), str(item["line"])) for item in run.verdict.get("last_lines", [])]
        return tuple(lines[-SIDE_LINES:])
    upto = [item for item in run.log_lines() if item[0] <= reached.t + 1e-6]
    return tuple(upto[-SIDE_LINES:])


def compare(columns: Sequence[Column]) -> Comparison:
    """Line the columns up milestone by milestone and find where they first diverge."""
    rows = _row_names(columns)
    divergence = None
    common = "power-on"
    for name in rows:
        reached = tuple(any(m.name == name for m in column.run.milestones) for column in columns)
        if any(reached) and not all(reached):
            lines = tuple(_lines_before(column.run, name) for column in columns)
            divergence = Divergence(common, name, reached, lines)
            break
        if all(reached):
            common = name
    return Comparison(tuple(columns), rows, divergence)


def _cell(run: RecordedRun, name: str) -> str:
    reached = next((m for m in run.milestones if m.name == name), None)
    if reached is not None:
        return f"{reached.t:.3f} s"
    if run.verdict.get("waiting_for") == name:
        return run.kind.upper()
    return "-"


def table(result: Comparison) -> str:
    """The comparison for a terminal: the table, then the divergence and each side's lines."""
    width = max([16, *(len(c.label) + 2 for c in result.columns)])
    out = ["milestone".ljust(20) + "".join(c.label.rjust(width) for c in result.columns)]
    for name in result.rows:
        out.append(name.ljust(20) + "".join(_cell(c.run, name).rjust(width) for c in result.columns))
    out.append("verdict".ljust(20) + "".join(c.run.kind.upper().rjust(width) for c in result.columns))
    for column in result.columns:
        autopsy = column.run.autopsy
        if autopsy is not None:
            out.append(f"{column.label}:")
            out.extend(autopsy_lines(autopsy))
    divergence = result.divergence
    if divergence is None:
        kinds = sorted({c.run.kind for c in result.columns})
        out.append(
            "agree: every target reached the same milestones"
            + ("" if result.agree else f", but the verdicts differ ({', '.join(kinds)})")
        )
        return "\n".join(out)
    out.append(f"diverge after `{divergence.milestone}`: only some reach `{divergence.next}`")
    for column, reached, lines in zip(result.columns, divergence.reached, divergence.lines, strict=True):
        state = f"reached `{divergence.next}`" if reached else f"stopped: {column.run.verdict.get('signature', '?')}"
        out.append(f"  {column.label}: {state}; last lines:")
        out.extend(f"    [{t:10.3f}] {line}" for t, line in lines)
    return "\n".join(out)


def render_html(result: Comparison) -> str:
    """The comparison page: verdict, the table, parallel timelines on one scale, the divergence."""
    agree = "AGREE" if result.agree else "DIFFER"
    css = "k-pass" if result.agree else "k-fail"
    divergence = result.divergence
    summary = (
        f"diverge after <b>{escape(divergence.milestone)}</b>: only some reach {escape(divergence.next)}"
        if divergence
        else "no divergence"
    )
    body = [f'<div class="verdict {css}" id="verdict"><div class="kind">{agree}</div><div>{summary}</div></div>']
    head = "".join(f"<th>{escape(c.label)}</th>" for c in result.columns)
    rows = []
    for name in result.rows:
        mark = ' style="background:#fde2e0"' if divergence and divergence.next == name else ""
        cells = "".join(f"<td>{escape(_cell(c.run, name))}</td>" for c in result.columns)
        rows.append(f"<tr{mark}><td>{escape(name)}</td>{cells}</tr>")
    verdicts = "".join(f"<td><b>{escape(c.run.kind.upper())}</b></td>" for c in result.columns)
    body.append(f"<h2>Milestones</h2><table><tr><th>milestone</th>{head}</tr>{''.join(rows)}")
    body.append(f"<tr><td>verdict</td>{verdicts}</tr></table>")
    body.append("<h2>Timelines</h2>")
    span = max(timeline_span(c.run.report) for c in result.columns)
    body += [timeline(c.run.report, c.label, span) for c in result.columns]
    if divergence:
        body.append(f"<h2>After `{escape(divergence.milestone)}`</h2>")
        for column, reached, lines in zip(result.columns, divergence.reached, divergence.lines, strict=True):
            text = "\n".join(f"[{t:11.6f}] {line}" for t, line in lines)
            state = "reached it" if reached else "stopped"
            body.append(f'<div><b>{escape(column.label)}</b>: {state}</div><pre class="lastlines">{escape(text)}</pre>')
    for column in result.columns:
        section = autopsy_section(column.run.report.get("autopsy"))
        if section:
            body.append(f"<h2>{escape(column.label)}</h2>")
            body += section
    title = " vs ".join(c.label for c in result.columns)
    return page(f"compare: {title}", "".join(body))
