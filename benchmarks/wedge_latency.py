"""Wedge latency: seconds from the last console byte to the wedge verdict, minus `silence`.

A scripted target prints a boot, reaches a milestone and goes silent; hartbeat must declare
the wedge within silence + 0.5 s. 20 runs; prints median and worst overshoot. The baseline,
measured in the same run, is a plain pexpect.expect with timeout = silence started at the last
milestone: its overshoot past the timeout, and what it reports (a bare TIMEOUT, no milestone).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.engine.verdict import Kind  # noqa: E402
from harness.model.plan import load_plan  # noqa: E402
from harness.run.board_loader import load_board  # noqa: E402
from harness.run.runner import Runner  # noqa: E402
from harness.run.setup import prepare  # noqa: E402

RUNS = 20
SILENCE = 1.0
SCRIPT = (
    "say OpenSBI v1.2\nsay fs-qrv: mounted qrvfs at /usr (dev=/dev/nvme0n1p8)\nsay tm_msg 0x11b <- TM_REQ_SPAWN\nhang\n"
)
PLAN = f"""
name = "wedge-latency"
silence = "{SILENCE}s"
[[milestone]]
name = "usr-mounted"
expect = 'mounted qrvfs at /usr'
[[milestone]]
name = "login"
expect = 'login: $'
within = "60s"
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "boot.script").write_text(SCRIPT)
        (tmp / "plan.toml").write_text(PLAN)
        scripted = ROOT / "tests" / "scripts" / "scripted_board.py"
        command = [sys.executable, str(scripted), str(tmp / "boot.script")]
        board_text = f'name = "scripted"\ntarget = "process"\ncommand = {json.dumps(command)}\n'
        (tmp / "board.toml").write_text(board_text)
        plan, board = load_plan(tmp / "plan.toml"), load_board(str(tmp / "board.toml"))
        overshoot = []
        for index in range(RUNS):
            result = Runner(prepare(plan, board), out_dir=tmp / f"run{index}").run()
            assert result.verdict.kind is Kind.WEDGE, result.verdict.reason
            last_byte = result.verdict.last_lines[-1][0]
            overshoot.append(result.verdict.at - last_byte - SILENCE)

        baseline = []
        for _ in range(RUNS):
            child = pexpect.spawn(sys.executable, [str(scripted), str(tmp / "boot.script")])
            child.expect("TM_REQ_SPAWN")
            start = time.monotonic()
            try:
                child.expect("login: ", timeout=SILENCE)
            except pexpect.TIMEOUT:
                baseline.append(time.monotonic() - start - SILENCE)
            child.close(force=True)

    med, worst = statistics.median(overshoot), max(overshoot)
    base_med = statistics.median(baseline)
    print(f"wedge_latency: {RUNS} runs, silence {SILENCE:.1f} s")
    print(
        f"  hartbeat: verdict after last byte + silence: median {med * 1000:.1f} ms, worst {worst * 1000:.1f} ms "
        "(bound 500 ms)"
    )
    print(f"  plain pexpect timeout overshoot: median {base_med * 1000:.1f} ms (and it names no milestone)")
    print(f"  ratio hartbeat/pexpect overshoot: {med / base_med:.2f}x")


if __name__ == "__main__":
    main()
