"""Hostile consoles: catastrophic patterns (case 1), huge lines (6), bare carriage returns (18)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from .helpers import hartbeat, report, write

FLOOD_A = """
import sys, time
out = sys.stdout.buffer
while True:
    out.write(b"a" * 48 + b"!\\n")
    out.flush()
    time.sleep(0.05)
"""


def test_catastrophic_pattern_ends_as_error_within_its_deadline(tmp_path: Path, program_board) -> None:
    board = program_board(FLOOD_A)
    plan = write(
        tmp_path / "plan.toml",
        """
        timeout = "8s"
        [[milestone]]
        name = "never"
        expect = '(a|aa)+$'
        """,
    )
    started = time.monotonic()
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(tmp_path / "run"), cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    verdict = report(tmp_path / "run")["verdict"]
    assert verdict["kind"] == "error"
    # The error names where the pattern was written.
    assert "milestone[0].expect" in verdict["reason"] and "(a|aa)+$" in verdict["reason"]
    # Generous on a loaded machine, far below the hours the search would take.
    assert elapsed < 60


def test_check_warns_about_nested_quantifiers(tmp_path: Path, program_board) -> None:
    board = program_board("print('x')\n")
    plan = write(
        tmp_path / "plan.toml",
        """
        [[milestone]]
        name = "a"
        expect = '(a+)+$'
        [[milestone]]
        name = "b"
        expect = 'login: \\w+'
        """,
    )
    proc = hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "milestone[0].expect" in warnings[0] and "nested quantifier" in warnings[0]


# A child that runs the console on a pipe and reports time and peak memory: the numbers of one
# process, whatever else the test process has allocated.
MEASURE = """
import json, os, re, select, sys, threading, time
from pathlib import Path
from harness.engine.console import Console, ConsoleFiles, Matched, Watch
from harness.engine.watch_kind import WatchKind
from harness.errors import TransportClosed

class Pipe:
    def __init__(self):
        self.r, self.w = os.pipe()
    def read(self, size, timeout):
        if not select.select([self.r], [], [], timeout)[0]:
            return b""
        data = os.read(self.r, size)
        if not data:
            raise TransportClosed("pipe closed")
        return data
    def write(self, data):
        pass
    def close(self):
        pass

size = int(sys.argv[1])
folder = Path(sys.argv[2])
pipe = Pipe()
files = ConsoleFiles.open(folder)
console = Console(pipe, files)
console.start()

def feed():
    chunk = b"x" * 65536
    for _ in range(size // len(chunk)):
        os.write(pipe.w, chunk)
    os.write(pipe.w, b"END-OF-HUGE-LINE\\r\\nlogin: ok\\r\\n")

start = time.monotonic()
threading.Thread(target=feed, daemon=True).start()
end = Watch("end", WatchKind.EXPECT, re.compile(r"END-OF-HUGE-LINE$", re.M))
login = Watch("login", WatchKind.EXPECT, re.compile(r"^login: ok$", re.M))
first = console.wait_for([end], deadline=600)
second = console.wait_for([login], deadline=600)
elapsed = time.monotonic() - start
console.stop()
files.close()
print(json.dumps({
    "end": isinstance(first, Matched), "login": isinstance(second, Matched), "seconds": elapsed,
    # VmHWM is this process's own peak (ru_maxrss keeps the forking parent's peak across exec).
    "rss_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024,
    "log_bytes": (folder / "console.log").stat().st_size,
}))
"""


def test_huge_line_is_linear_and_bounded(tmp_path: Path) -> None:
    size = 40 * 1024 * 1024
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(size), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)
    # The pattern at the very end of the huge line, and the milestone after it, are both found.
    assert measured["end"] and measured["login"], measured
    # Before: about 70 s and 200+ MB for 40 MB (quadratic); now about 1 s and well under 100 MB.
    assert measured["seconds"] < 30, measured
    assert measured["rss_mb"] < 150, measured
    # console.log keeps the whole line.
    assert measured["log_bytes"] > size


def test_bare_carriage_returns_end_lines(tmp_path: Path, program_board) -> None:
    board = program_board(
        """
        import sys, time
        sys.stdout.buffer.write(b"first\\rbanner-ok\\rlast\\r")
        sys.stdout.buffer.flush()
        time.sleep(30)
        """
    )
    plan = write(
        tmp_path / "plan.toml",
        """
        [[milestone]]
        name = "banner"
        expect = '^banner-ok$'
        within = "20s"
        [[milestone]]
        name = "last"
        expect = '^last$'
        within = "20s"
        """,
    )
    out = tmp_path / "run"
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (out / "console.log").read_text().splitlines()
    assert [line.split("] ", 1)[1] for line in log] == ["first", "banner-ok", "last"]
    assert (out / "console.raw").read_bytes() == b"first\rbanner-ok\rlast\r"
