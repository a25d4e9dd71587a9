"""Console throughput: a 50 MB trace firehose through hartbeat's engine vs bare pexpect.expect.

All sides read the same producer (a process printing trace lines on a pty, then an end
marker) and look for the same patterns: the end marker plus the standard panic and fault
patterns. hartbeat's engine also writes console.raw and the timestamped console.log.

Baselines, measured in the same run:
- pexpect.expect as usually called (default maxread and searchwindowsize): it copies and
  searches the whole buffer on every read, so it slows down as output accumulates; it gets a
  time budget and its rate over that budget is reported.
- pexpect.expect with searchwindowsize (its fast mode): it only searches the last window of each
  read, so a panic line in the middle of a burst can pass unseen; a probe checks that.

Each side runs in its own process, so its peak RSS is its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MEGABYTES = 50
DEFAULT_BUDGET = 30.0
LINE = "tm_msg 0x200   <- TM_REQ_MMAP     (spawn args page) seq=%08d pid=17 tid=3\n"
MARKER = "FIREHOSE-END"
PANIC = "Kernel panic - not syncing: probe in the middle of a burst"


def producer(megabytes: int, panic_at: int | None = None) -> str:
    """Python source of a process that prints the firehose (and maybe a panic line mid-burst)."""
    return f"""
import sys
line = {LINE!r}
out = sys.stdout.buffer
block = "".join(line % i for i in range(1000)).encode()
written = 0
while written < {megabytes} * 1024 * 1024:
    if {panic_at!r} is not None and written >= {panic_at!r} * 1024 * 1024:
        out.write(block[: len(block) // 2] + b"{PANIC}\\n" + block[len(block) // 2 :])
        out.write(block * 4)
        break
    out.write(block)
    written += len(block)
out.write(b"{MARKER}\\n")
out.flush()
"""


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_engine(source: str) -> dict[str, object]:
    from harness.engine.console import Console, ConsoleFiles, Matched, Watch
    from harness.engine.watch_kind import WatchKind
    from harness.model.plan import standard_fails
    from harness.targets.process import ProcessTarget

    target = ProcessTarget("firehose", [sys.executable, "-c", source])
    with tempfile.TemporaryDirectory() as folder:
        files = ConsoleFiles.open(Path(folder))
        console = Console(target.console(), files)
        console.start()
        start = time.perf_counter()
        target.power_on()
        watches = [Watch(f.name, WatchKind.FAIL, f.regex, partial=False) for f in standard_fails()]
        watches.append(Watch("end", WatchKind.EXPECT, re.compile(MARKER, re.MULTILINE)))
        outcome = console.wait_for(watches, deadline=600, silence=30)
        elapsed = time.perf_counter() - start
        assert isinstance(outcome, Matched), outcome
        received = console.bytes_received
        target.power_off()
        console.stop()
        files.close()
    return {"seconds": elapsed, "bytes": received, "rss_mb": _rss_mb(), "found": outcome.watch.name}


def worker_pexpect(source: str, window: bool) -> dict[str, object]:
    import pexpect

    from harness.model.plan import STANDARD_FAILS

    patterns = [MARKER, *(pattern for _name, pattern in STANDARD_FAILS)]
    options = {"maxread": 65536, "searchwindowsize": 8192} if window else {}
    start = time.perf_counter()
    child = pexpect.spawn(sys.executable, ["-c", source], timeout=DEFAULT_BUDGET, **options)
    try:
        index = child.expect(patterns)
        found = "end" if index == 0 else STANDARD_FAILS[index - 1][0]
        consumed = None
    except pexpect.TIMEOUT:
        found = "timeout"
        # After a TIMEOUT, `before` holds everything this expect read; without a search window
        # `buffer` holds the same bytes again (and with one, the last window of them), so only
        # `before` counts: adding both overstated pexpect's rate 2x.
        consumed = len(child.before or b"")
    elapsed = time.perf_counter() - start
    child.close(force=True)
    return {"seconds": elapsed, "bytes": consumed, "rss_mb": _rss_mb(), "found": found}


def run_worker(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def rate(result: dict[str, object], megabytes: int) -> float:
    consumed = result["bytes"] if result["bytes"] is not None else megabytes * 1024 * 1024
    return float(consumed) / 1e6 / float(result["seconds"])


def main() -> None:
    engine = run_worker("engine", str(MEGABYTES))
    plain = run_worker("pexpect", str(MEGABYTES))
    windowed = run_worker("pexpect-window", str(MEGABYTES))
    probe_engine = run_worker("engine", "8", "4")
    probe_window = run_worker("pexpect-window", "8", "4")

    print(f"console_throughput: {MEGABYTES} MB trace firehose on a pty, 10 patterns")
    print(
        f"  hartbeat engine          : {rate(engine, MEGABYTES):7.1f} MB/s  ({engine['seconds']:.2f} s, "
        f"peak RSS {engine['rss_mb']:.0f} MB, console.raw + console.log written)"
    )
    plain_note = (
        f"stopped after its {DEFAULT_BUDGET:.0f} s budget with {plain['bytes'] / 1e6:.1f} MB read"
        if plain["found"] == "timeout"
        else f"{plain['seconds']:.2f} s"
    )
    print(
        f"  pexpect.expect (defaults): {rate(plain, MEGABYTES):7.1f} MB/s  ({plain_note}, "
        f"peak RSS {plain['rss_mb']:.0f} MB)"
    )
    print(
        f"  pexpect.expect (window)  : {rate(windowed, MEGABYTES):7.1f} MB/s  ({windowed['seconds']:.2f} s, "
        f"peak RSS {windowed['rss_mb']:.0f} MB)"
    )
    print(f"  ratio engine / pexpect defaults: {rate(engine, MEGABYTES) / rate(plain, MEGABYTES):.1f}x (goal >= 2x)")
    print(f"  ratio engine / pexpect window  : {rate(engine, MEGABYTES) / rate(windowed, MEGABYTES):.2f}x")
    print(
        f"  panic line mid-burst: engine found {probe_engine['found']!r}, "
        f"pexpect window found {probe_window['found']!r}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        mode, size = sys.argv[1], int(sys.argv[2])
        panic_at = int(sys.argv[3]) if len(sys.argv) > 3 else None
        source = producer(size, panic_at)
        if mode == "engine":
            print(json.dumps(worker_engine(source)))
        else:
            print(json.dumps(worker_pexpect(source, window=mode == "pexpect-window")))
    else:
        main()
