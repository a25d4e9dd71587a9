"""Run every benchmark and keep every figure in ``benchmarks/results/<date>.json``.

    python benchmarks/run_all.py [--peers-python .venv-bench/bin/python]

Each script in ``benchmarks/`` runs with this interpreter, its output shown as it comes and kept
line by line; ``peers.py`` runs with ``--peers-python`` (the venv with labgrid and
pytest-embedded) and its structured results are kept whole. ``readme_table.py`` turns the newest
results file into the README's benchmark section. Exits 1 if any benchmark failed (after writing
the file, so the figures that were measured are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from peers import machine, versions  # noqa: E402

RESULTS = BENCHMARKS / "results"
NOT_BENCHMARKS = {"run_all.py", "readme_table.py", "peers.py"}
LIMIT = 900.0


def run_streamed(command: list[str]) -> tuple[int, list[str], float, list[str]]:
    """Run ``command``, echoing its output; its exit status, output lines, wall time, error tail."""
    start = time.monotonic()
    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=BENCHMARKS.parent)
        with proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
            try:
                code = proc.wait(timeout=LIMIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        errors.seek(0)
        error_lines = errors.read().splitlines()
    # A failure keeps the end of its error output (a traceback's last lines say what broke).
    tail = error_lines[-5:] if code != 0 else []
    if tail:
        print("\n".join(tail), file=sys.stderr)
    return code, lines, time.monotonic() - start, tail


def main() -> int:
    """Run the benchmarks, write the results file, print where it is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-python", default=sys.executable, help="the interpreter with the peers installed")
    parser.add_argument("--skip", action="append", default=[], help="a benchmark script to leave out (repeatable)")
    options = parser.parse_args()
    started = datetime.now(UTC)
    host = machine()
    scripts = sorted(p for p in BENCHMARKS.glob("*.py") if p.name not in NOT_BENCHMARKS | set(options.skip))
    benchmarks: list[dict[str, Any]] = []
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        code, lines, wall, tail = run_streamed([sys.executable, str(script)])
        entry = {"script": script.name, "exit": code, "seconds": round(wall, 1), "output": lines}
        benchmarks.append(entry | {"error": tail} if tail else entry)
        if code != 0:
            failed.append(script.name)
    peers: dict[str, Any] | None = None
    if "peers.py" not in options.skip:
        print("== peers.py", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "peers.json"
            code, _lines, _wall, _tail = run_streamed(
                [options.peers_python, str(BENCHMARKS / "peers.py"), "--json", str(out)]
            )
            peers = json.loads(out.read_text()) if out.exists() else None
        if code != 0 or peers is None:
            failed.append("peers.py")
    results = {
        "schema": "hartbeat.bench/1",
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": {**host, "load_average_after": list(os.getloadavg())},
        # The peers' venv has hartbeat too, and labgrid and pytest-embedded besides.
        "versions": peers["versions"] if peers else versions(),
        "peers": peers,
        "benchmarks": benchmarks,
        "failed": failed,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started:%Y-%m-%d}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path.relative_to(BENCHMARKS.parent)}" + (f" (failed: {', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
