"""benchmarks/peers.py in its tiny mode, so the peer benchmark cannot rot between `make bench` runs.

It runs with the peers' venv (`.venv-bench`, made by `make bench`) when there is one, so the
labgrid and pytest-embedded rows are measured too. With the test venv alone, a peer that is not
installed (pytest-embedded; labgrid comes with the `labgrid` extra) must say so in its cells.
hartbeat's own rows are checked either way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"


def installed(python: Path | str, module: str) -> bool:
    """True when ``module`` imports under ``python``."""
    probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.slow
def test_peers_tiny_run_measures_every_workload(tmp_path: Path) -> None:
    python = BENCH_PYTHON if BENCH_PYTHON.exists() else Path(sys.executable)
    out = tmp_path / "peers.json"
    done = subprocess.run(
        [str(python), str(REPO / "benchmarks" / "peers.py"), "--tiny", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| workload | hartbeat | labgrid | pytest-embedded |" in done.stdout
    results = json.loads(out.read_text())
    assert results["versions"]["hartbeat"] != "not installed"
    ours = results["figures"]["hartbeat"]
    silence = results["settings"]["silence"]
    # The firehose's panic line stops our engine in the middle of the burst.
    assert ours["firehose"]["caught"], ours["firehose"]
    assert 0 < ours["firehose"]["bytes"] < results["settings"]["megabytes"] * 1024 * 1024
    # A wedge is named after the silence limit (generous bound: the machine is shared).
    assert silence <= ours["wedge"]["latency"] < silence + 5, ours["wedge"]
    assert ours["wedge"]["names_milestone"] and ours["wedge"]["shows_last_line"], ours["wedge"]["message"]
    # A panic with the target alive ends the run without waiting for any timeout.
    assert ours["panic"]["latency"] < silence + 3 and ours["panic"]["says_panic"], ours["panic"]
    assert ours["uboot"]["verdicts"] == ["pass"], ours["uboot"]
    for peer, module in (("labgrid", "labgrid"), ("pytest-embedded", "pytest_embedded")):
        figures = results["figures"][peer]
        if installed(python, module):
            for workload in ("firehose", "wedge", "panic", "uboot"):
                assert "unavailable" not in figures[workload], (peer, workload, figures[workload])
            timeout = results["settings"]["peer_timeout"]
            assert figures["wedge"]["latency"] >= timeout - 1.0, figures["wedge"]
            assert set(results["ratios"][peer]) == {"firehose", "wedge", "panic", "uboot"}
        else:
            assert all("not installed" in figures[w]["unavailable"] for w in figures), figures


def test_readme_section_is_generated_from_a_results_file(tmp_path: Path) -> None:
    peers = {
        "settings": {"megabytes": 2, "budget": 3.0, "peer_timeout": 2.0, "silence": 1.5, "runs": 1},
        "figures": {
            "hartbeat": {"uboot": {"walls": [1.5], "median": 1.5, "verdicts": ["pass"]}},
            "labgrid": {"uboot": {"walls": [3.0], "median": 3.0, "verdicts": ["pass"]}},
            "pytest-embedded": {"uboot": {"unavailable": "failed: no | QEMU"}},
        },
        "ratios": {"labgrid": {"uboot": 2.0}, "pytest-embedded": {}},
    }
    results = {
        "started": "2026-12-02T06:00:00+00:00",
        "machine": {"cpus": 2, "cpu": "test CPU", "load_average": [3.0], "load_average_after": [4.0]},
        "versions": {"hartbeat": "0.1.0", "labgrid": "26.0.1", "pytest-embedded": "2.9.3", "qemu": "QEMU 7.2"},
        "peers": peers,
        "benchmarks": [{"script": "wedge_latency.py", "exit": 0, "seconds": 12.0, "output": ["median 1 ms"]}],
    }
    source = tmp_path / "2026-12-02.json"
    source.write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:begin -->\nstale figures\n<!-- bench:end -->\noutro\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "readme_table.py"), str(source), "--readme", str(readme)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert text.startswith("intro\n<!-- bench:begin -->\n") and text.endswith("<!-- bench:end -->\noutro\n")
    assert "stale figures" not in text
    assert "| healthy U-Boot plan (median wall) | 1.50 s (runs: 1.50) | 3.00 s (runs: 3.00) |" in text
    assert "n/a: failed: no \\| QEMU" in text  # a reason with a pipe cannot break the table
    assert "hartbeat vs labgrid: uboot 2.0x" in text
    assert "| `wedge_latency.py` | 12 | median 1 ms |" in text
