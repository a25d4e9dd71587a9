"""``bisect.html``: the answer of a bisect as a page, each build's runs linked to their reports."""

from __future__ import annotations

from pathlib import Path

from harness.bisect.answer import Answer, Status
from harness.records.html_report import PAGE, escape, page, write_run_page
from harness.records.run_folder import find_runs, load_run

HTML_NAME = "bisect.html"
# Where Trials.boot puts a build's runs: runs/<build>/<attempt> under the bisect folder.
RUNS = "runs"


def _run_links(folder: Path, build: str) -> str:
    links = []
    for run_folder in find_runs(folder / RUNS / build) if (folder / RUNS / build).is_dir() else []:
        if not (run_folder / PAGE).is_file():
            write_run_page(load_run(run_folder))
        kind = load_run(run_folder).kind
        href = (run_folder / PAGE).relative_to(folder).as_posix()
        links.append(f'<a href="{escape(href)}">{escape(run_folder.name)}: {escape(kind)}</a>')
    return " ".join(links) or "-"


def render(answer: Answer, folder: Path) -> str:
    """The page: the answer up top, the table of builds with links to every run's report."""
    found = answer.status is Status.FOUND
    head = (
        f"first bad build: <b>{escape(answer.first_bad)}</b> (last good: {escape(answer.last_good)})"
        if found
        else f"inconclusive: {escape(answer.reason)}"
    )
    commit = (
        f"<div>commit: {escape(answer.commit or answer.first_bad)} {escape(answer.subject)} "
        f"({escape(answer.author)})</div>"
        if answer.subject is not None
        else ""
    )
    checks = [
        f"<div>{label}: {escape(text)}</div>"
        for label, text in (("verified", answer.verification_text()), ("revert check", answer.revert_text()))
        if text is not None
    ]
    body = [
        f'<div class="verdict {"k-pass" if found and answer.exit_code == 0 else "k-error"}" id="verdict">'
        f'<div class="kind">{"FOUND" if found else "INCONCLUSIVE"}</div><div>{head}</div>{commit}'
        f'<div>signature: <span class="sig">{escape(answer.signature or "-")}</span></div>{"".join(checks)}'
        f'<div id="boots">{escape(answer.boots_text())}, {answer.wall_seconds:.1f} s; strategy '
        f"{escape(answer.strategy)}; {escape(answer.rate_text())}</div></div>"
    ]
    if answer.last_lines:
        origin = f" (run {escape(answer.culprit.run)})" if answer.culprit else ""
        body.append(f'<h2>Last lines before the failure{origin}</h2><pre class="lastlines" id="lastlines">')
        body.append(escape("\n".join(answer.timed_last_lines())) + "</pre>")
    if answer.autopsy:
        body.append('<h2>The culprit\'s autopsy</h2><pre id="autopsy">' + escape("\n".join(answer.autopsy)) + "</pre>")
    steps = [*answer.next_steps, *([answer.regzbot] if answer.regzbot else [])]
    if steps:
        body.append('<h2>Next steps</h2><pre id="next">' + escape("\n".join(steps)) + "</pre>")
    rows = []
    for row in sorted(answer.rows, key=lambda r: r.index):
        mark = ' style="background:#fde2e0"' if row.name == answer.first_bad else ""
        rows.append(
            f"<tr{mark}><td>{row.index}</td><td>{escape(row.name)}</td><td>{escape(row.state)}</td>"
            f"<td>{row.runs}</td><td>{row.seconds:.1f}</td><td>{escape(row.verdicts)}</td>"
            f"<td>{_run_links(folder, row.name)}</td><td>{escape(row.note)}</td></tr>"
        )
    body.append(
        "<h2>Builds tried</h2><table><tr><th>#</th><th>build</th><th>state</th><th>runs</th><th>seconds</th>"
        "<th>verdicts</th><th>reports</th><th>note</th></tr>" + "".join(rows) + "</table>"
    )
    return page(f"bisect: {'found ' + str(answer.first_bad) if found else 'inconclusive'}", "".join(body))


def write_html(answer: Answer, folder: Path) -> Path:
    """Write ``bisect.html`` into the bisect folder."""
    path = folder / HTML_NAME
    path.write_text(render(answer, folder), encoding="utf-8")
    return path
