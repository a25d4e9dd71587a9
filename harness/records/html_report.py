"""``report.html``: one self-contained page per run, and an index page for a folder of runs.

No network and no framework: inline CSS, and a few lines of plain JavaScript that filter the
console log. The page is built from the report dictionary and the console log, so it can be
written at the end of a run or again later from a run folder (``hartbeat report``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.engine.verdict import STILL_COMING, Kind
from harness.records.run_folder import RecordedRun, find_runs, load_run

PAGE = "report.html"
INDEX = "index.html"
# A firehose run can log hundreds of megabytes; the page keeps its head and tail (the log
# file keeps everything) so a browser can still open it.
LOG_LINES_LIMIT = 50_000
# A line longer than this (a memory dump without newlines) shows its head and tail only.
LOG_LINE_CHARS = 64 * 1024

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.3em;margin:0 0 .3em} h2{font-size:1.05em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
.verdict{padding:.7em 1em;border-radius:6px;border-left:8px solid #888;background:#f4f4f4}
.verdict .kind{font-size:1.6em;font-weight:700;letter-spacing:.05em}
.k-pass{border-color:#2a8a3a}.k-pass .kind{color:#2a8a3a}
.k-wedge,.k-stall,.k-panic,.k-oops,.k-reset,.k-fail{border-color:#c0392b}
.k-wedge .kind,.k-stall .kind,.k-panic .kind,.k-oops .kind,.k-reset .kind,.k-fail .kind{color:#c0392b}
.k-error{border-color:#d35400}.k-error .kind{color:#d35400}.k-skip{border-color:#777}
.sig{font-family:monospace;background:#fff;padding:.1em .3em}
.fallback{padding:.6em 1em;margin-bottom:.5em;border-radius:6px;background:#fff3b0;border:2px solid #d35400}
.fallback{font-weight:700}
.tl{position:relative;margin:.2em 0}
.row{display:flex;align-items:center;height:22px}
.row .name{width:11em;flex:none;text-align:right;padding-right:.6em;font-family:monospace;overflow:hidden}
.row .track{position:relative;flex:1;height:14px;background:#f7f7f7}
.row .time{width:10.5em;flex:none;white-space:nowrap;padding-left:.6em;font-family:monospace;font-size:12px}
.bar{position:absolute;top:0;height:14px;background:#4a7fc1;min-width:2px}
.bar.quiet{background:repeating-linear-gradient(45deg,#c0392b 0 4px,#f5d0cc 4px 8px)}
.bar.waiting{background:#e6a23c}
.axis{height:18px;color:#666}.axis .track{background:none}
.axis span{position:absolute;transform:translateX(-50%);white-space:nowrap;font-size:11px}
pre,.log{font:12px/1.35 monospace}pre{white-space:pre-wrap;overflow-wrap:anywhere}
.log{max-height:40em;overflow:auto;border:1px solid #ddd;padding:.3em}
.l{white-space:pre-wrap}.l .t{color:#888}.l.last{background:#fde2e0}.l.hit{background:#fff3b0}
.lastlines{background:#fde2e0;padding:.5em;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;font-size:13px}
input{font:13px monospace;width:30em;padding:.2em}
"""

_SEARCH = """
const q = document.getElementById('q'), n = document.getElementById('n');
const rows = document.querySelectorAll('.log .l');
q.addEventListener('input', () => {
  let re = null;
  try { re = q.value ? new RegExp(q.value, 'i') : null; } catch (e) { n.textContent = 'bad pattern'; return; }
  let count = 0;
  rows.forEach(r => {
    const hit = !re || re.test(r.dataset.x);
    r.style.display = hit ? '' : 'none';
    r.classList.toggle('hit', !!re && hit);
    if (re && hit) count++;
  });
  n.textContent = re ? count + ' matching lines' : '';
});
// report.html#q=PATTERN opens the page with the log already filtered (a link to a search).
if (location.hash.startsWith('#q=')) {
  q.value = decodeURIComponent(location.hash.slice(3));
  q.dispatchEvent(new Event('input'));
}
"""


def escape(text: object) -> str:
    """Text made safe for HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def _pct(value: float, span: float) -> str:
    return f"{max(0.0, min(100.0, 100.0 * value / span)):.3f}%"


def _bar(start: float, end: float, span: float, css: str, title: str) -> str:
    style = f"left:{_pct(start, span)};width:{_pct(end - start, span)}"
    return f'<div class="bar {css}" style="{style}" title="{escape(title)}"></div>'


def _axis(span: float) -> str:
    step = next((s for s in (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600) if span / s <= 10), 1200.0)
    ticks, t = [], 0.0
    while t <= span + 1e-9:
        ticks.append(f'<span style="left:{_pct(t, span)}">{t:g} s</span>')
        t += step
    # A row like the bars' rows, its ticks in a track like theirs: the labels share the bars' x
    # scale whatever the fonts (an axis offset in em at its own font size sat 30 px off).
    return (
        '<div class="row axis"><div class="name"></div>'
        f'<div class="track ticks">{"".join(ticks)}</div><div class="time"></div></div>'
    )


def timeline_span(report: dict[str, Any]) -> float:
    """The seconds a run's timeline covers: to its verdict, its last milestone or its last line."""
    verdict = report.get("verdict", {})
    at = float(verdict.get("at", 0.0))
    last_t = max((float(item["t"]) for item in verdict.get("last_lines", [])), default=0.0)
    return max([at, last_t, *(float(m["t"]) for m in report.get("milestones", [])), 0.001])


def timeline(report: dict[str, Any], label: str = "", span: float | None = None) -> str:
    """Milestone bars on a seconds scale; a failed step ends in its waiting bar or quiet stretch.

    ``span`` puts several timelines on one scale (``compare``); by default the run's own.
    """
    verdict = report.get("verdict", {})
    return _timeline_rows(report.get("milestones", []), verdict, span or timeline_span(report), label)


def _timeline_rows(milestones: Sequence[dict[str, Any]], verdict: dict[str, Any], span: float, label: str) -> str:
    rows = []
    previous = 0.0
    for m in milestones:
        t = float(m["t"])
        bar = _bar(previous, t, span, "", f"{m['name']}: {previous:.3f} -> {t:.3f} s")
        # On a guest clock, when the host read it too (`host_t`).
        host = f" [host {float(m['host_t']):.3f} s]" if m.get("host_t") is not None else ""
        rows.append(
            f'<div class="row"><div class="name">{escape(m["name"])}</div><div class="track">{bar}</div>'
            f'<div class="time">{t:.3f} s (+{t - previous:.3f}){host}</div></div>'
        )
        previous = t
    kind = verdict.get("kind", "")
    waiting = verdict.get("waiting_for")
    if kind not in (Kind.PASS, Kind.SKIP) and waiting:
        at = float(verdict.get("at", previous))
        last_byte = max((float(item["t"]) for item in verdict.get("last_lines", [])), default=previous)
        bars = []
        quiet_from = max(previous, min(last_byte, at))
        # A stall whose console had gone quiet is drawn as such too: the bar shows what it did.
        if kind == Kind.WEDGE or (kind == Kind.STALL and at - quiet_from >= STILL_COMING):
            if quiet_from > previous:
                bars.append(_bar(previous, quiet_from, span, "waiting", "output while waiting"))
            bars.append(_bar(quiet_from, at, span, "quiet", f"quiet for {at - quiet_from:.3f} s"))
            note = f"quiet {at - quiet_from:.2f} s" if kind == Kind.WEDGE else f"stall, quiet {at - quiet_from:.2f} s"
        else:
            bars.append(_bar(previous, at, span, "waiting", f"waiting {at - previous:.3f} s"))
            note = f"{kind} at {at:.3f} s"
        rows.append(
            f'<div class="row"><div class="name">{escape(waiting)}?</div><div class="track">{"".join(bars)}</div>'
            f'<div class="time">{escape(note)}</div></div>'
        )
    title = f"<div><b>{escape(label)}</b></div>" if label else ""
    return f'{title}<div class="tl">{"".join(rows)}{_axis(span)}</div>'


def _captures(report: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{escape(m['name'])}</td><td>{escape(key)}</td><td>{escape(value)}</td></tr>"
        for m in report.get("milestones", [])
        for key, value in m.get("captures", {}).items()
    ]
    verdict = report.get("verdict", {})
    rows += [
        f"<tr><td>verdict</td><td>{escape(key)}</td><td>{escape(value)}</td></tr>"
        for key, value in verdict.get("captures", {}).items()
    ]
    if not rows:
        return "<p>none</p>"
    return "<table><tr><th>milestone</th><th>name</th><th>value</th></tr>" + "".join(rows) + "</table>"


def _where(where: Any) -> str:
    return escape(where["text"]) if isinstance(where, dict) else ""


def autopsy_section(autopsy: Any) -> list[str]:
    """The autopsy's diagnosis and a table of the harts (report.json's ``autopsy`` object)."""
    if not isinstance(autopsy, dict):
        return []
    head = f'<h2>Autopsy</h2><p id="diagnosis"><b>{escape(autopsy.get("diagnosis", ""))}</b>'
    if autopsy.get("available"):
        head += (
            f" ({escape(autopsy.get('backend', ''))}, {float(autopsy.get('duration', 0.0)):.2f} s after the verdict, "
            f"{escape(autopsy.get('samples', 0))} samples over {float(autopsy.get('span', 0.0)):.2f} s)"
        )
    out = [head + "</p>"]
    rows = []
    for hart in autopsy.get("harts", []):
        state = hart.get("state") or {}
        trace = " &larr; ".join(
            _where(frame.get("where")) or escape(frame.get("unreadable") or frame.get("pc", ""))
            for frame in hart.get("backtrace", [])
        )
        interrupts = ""
        if state:
            interrupts = (
                f"MIE {int(state['mstatus_mie'])} SIE {int(state['mstatus_sie'])}, "
                f"mip {escape(state['mip'])}, mie {escape(state['mie'])}"
            )
        trap = f"{escape(state.get('cause', ''))} @ {escape(state.get('epc', ''))}" if state.get("traps") != 0 else ""
        pc = f"{escape(state.get('pc', ''))}<br>{_where(hart.get('where'))}"
        ra = f"{escape(state.get('ra', ''))}<br>{_where(hart.get('ra_where'))}"
        rows.append(
            f"<tr><td>{escape(hart.get('hart'))}</td><td>{escape(hart.get('class'))}</td>"
            f"<td>{escape(state.get('mode', ''))}</td><td>{pc}</td><td>{ra}</td><td>{escape(state.get('sp', ''))}</td>"
            f"<td>{'yes' if state.get('wfi') else 'no'}</td><td>{trap}</td>"
            f"<td>{escape(state.get('satp_mode', ''))} {escape(state.get('asid', ''))}</td><td>{interrupts}</td>"
            f"<td>{escape(hart.get('note', ''))}{'<br>called from ' + trace if trace else ''}</td></tr>"
        )
    if rows:
        out.append(
            '<table id="autopsy"><tr><th>hart</th><th>class</th><th>mode</th><th>pc</th><th>ra</th><th>sp</th>'
            "<th>wfi</th><th>trap (cause @ epc)</th><th>satp, ASID</th><th>interrupts</th><th>note</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    out += [f"<p>note: {escape(note)}</p>" for note in autopsy.get("notes", [])]
    out += _sysrq_section(autopsy.get("sysrq"))
    return out


def _sysrq_section(sysrq: Any) -> list[str]:
    """What Linux answered the console's SysRq keys: the summary, then its own lines (they are in
    the console log too, after the verdict)."""
    if not isinstance(sysrq, dict):
        return []
    lines = "\n".join(str(line) for line in sysrq.get("lines", []))
    return [
        f'<h3>SysRq</h3><p id="sysrq"><b>{escape(sysrq.get("summary", ""))}</b></p>',
        f"<details><summary>the kernel's answer ({len(sysrq.get('lines', []))} lines)</summary>"
        f"<pre>{escape(lines)}</pre></details>",
    ]


def _log(lines: Sequence[tuple[float, str]], last: set[tuple[float, str]]) -> str:
    shown: list[tuple[float, str] | None] = list(lines)
    if len(lines) > LOG_LINES_LIMIT:
        half = LOG_LINES_LIMIT // 2
        shown = [*lines[:half], None, *lines[-half:]]
    out = []
    first_last = True
    for item in shown:
        if item is None:
            left_out = len(lines) - LOG_LINES_LIMIT
            out.append(f'<div class="l"><b>... {left_out} lines left out; console.log has all ...</b></div>')
            continue
        t, text = item
        css = "l last" if (round(t, 6), text) in last else "l"
        anchor = ""
        if css == "l last" and first_last:
            anchor, first_last = ' id="last"', False
        safe = escape(text)
        out.append(f'<div class="{css}"{anchor} data-x="{safe}"><span class="t">[{t:11.6f}]</span> {safe}</div>')
    return "".join(out)


def render_run(report: dict[str, Any], lines: Sequence[tuple[float, str]]) -> str:
    """The page for one run: verdict, timeline, last lines, captures, searchable log."""
    verdict = report.get("verdict", {})
    kind = str(verdict.get("kind", "error"))
    plan = report.get("plan", {}).get("name", "?")
    board = report.get("board", {}).get("name", "?")
    last_lines = [(float(item["t"]), str(item["line"])) for item in verdict.get("last_lines", [])]
    last = {(round(t, 6), text) for t, text in last_lines} if kind != Kind.PASS else set()
    head = [f'<div class="verdict k-{escape(kind)}" id="verdict"><div class="kind">{escape(kind.upper())}</div>']
    head.append(f"<div>{escape(plan)} on {escape(board)}; started {escape(report.get('started', ''))}, ")
    head.append(f"{float(report.get('duration', 0.0)):.2f} s of the host</div>")
    if report.get("clock") == "guest":
        head.append(
            "<div id=\"clock\">times are the target's guest seconds (its own clock); the host's in brackets</div>"
        )
    if kind != Kind.PASS:
        head.append(f'<div id="reason">{escape(verdict.get("reason", ""))}</div>')
        signature = escape(verdict.get("signature", ""))
        head.append(f'<div>signature: <span class="sig" id="signature">{signature}</span></div>')
    head.append("</div>")
    fallback_for = report.get("fallback_for")
    if fallback_for:
        # Above everything else: a green page from the fallback is not a pass on the board.
        skip = " It counts as a skip (exit 125)." if report.get("exit_code") == 125 and kind == Kind.PASS else ""
        head.insert(
            0,
            f'<div class="fallback" id="fallback">FALLBACK: this ran on {escape(board)}, not on '
            f"{escape(fallback_for.get('board', '?'))}: {escape(fallback_for.get('reason', ''))}.{skip}</div>",
        )
    body = ["".join(head), "<h2>Timeline</h2>", timeline(report)]
    if kind != Kind.PASS and last_lines:
        shown = "\n".join(f"[{t:11.6f}] {text}" for t, text in last_lines)
        body.append(
            f'<h2>Last lines before the {escape(kind)} (<a href="#last">in the log</a>)</h2>'
            f'<pre class="lastlines" id="lastlines">{escape(shown)}</pre>'
        )
    body += autopsy_section(report.get("autopsy"))
    body += ["<h2>Captures</h2>", _captures(report)]
    target = report.get("target", {})
    if target.get("command"):
        body.append(f"<h2>Target</h2><pre>{escape(target.get('command'))}\n{escape(target.get('version', ''))}</pre>")
    body.append(
        f'<h2>Console log ({len(lines)} lines)</h2><input id="q" placeholder="search (regular expression)">'
        f' <span id="n"></span><div class="log" id="log">{_log(lines, last)}</div>'
    )
    return page(f"{plan} on {board}: {kind.upper()}", "".join(body), script=_SEARCH)


def page(title: str, body: str, *, script: str = "") -> str:
    """A complete HTML document with the report style."""
    js = f"<script>{script}</script>" if script else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}{js}</body></html>\n"
    )


def write_run_page(run: RecordedRun) -> Path:
    """(Re)write ``report.html`` in a run folder from its report and console log."""
    path = run.folder / PAGE
    path.write_text(render_run(run.report, run.log_lines(LOG_LINE_CHARS)), encoding="utf-8")
    return path


def write_index(root: Path) -> tuple[Path, int]:
    """Write ``index.html`` in ``root`` listing every run below it, each with its own page."""
    rows = []
    kinds: dict[str, int] = {}
    folders = find_runs(root)
    for folder in folders:
        run = load_run(folder)
        kinds[run.kind] = kinds.get(run.kind, 0) + 1
        page_path = folder / PAGE
        if not page_path.is_file():
            write_run_page(run)
        link = page_path.relative_to(root).as_posix() if folder != root else PAGE
        verdict = run.verdict
        name = folder.relative_to(root).as_posix() if folder != root else "."
        rows.append(
            f'<tr class="k-{escape(run.kind)}"><td><a href="{escape(link)}">{escape(name)}</a></td>'
            f"<td>{escape(run.report.get('started', ''))}</td><td>{escape(run.plan_name)}</td>"
            f"<td>{escape(run.board_name)}</td>"
            f"<td><b>{escape(run.kind.upper())}</b></td><td>{float(run.report.get('duration', 0.0)):.2f}</td>"
            f'<td class="sig">{escape(verdict.get("signature", ""))}</td></tr>'
        )
    counts = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    table = (
        "<table><tr><th>run</th><th>started</th><th>plan</th><th>board</th><th>verdict</th>"
        "<th>seconds</th><th>signature</th></tr>" + "".join(rows) + "</table>"
    )
    path = root / INDEX
    path.write_text(page(f"{len(folders)} runs in {root}", f"<p>{escape(counts)}</p>{table}"), encoding="utf-8")
    return path, len(folders)
