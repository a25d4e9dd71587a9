"""Run folders written by hand (report.json and console.log) for the commands that read runs:
``report``, ``compare``, ``calibrate``. Made in the ``runs_folder`` fixture's folder, outside the
session's temporary tree, which tests/test_zz_replay_all.py replays as live runs."""

from __future__ import annotations

import json
from pathlib import Path

# uboot-smoke's first and last step, as a passing run on QEMU reaches them.
MILESTONES = (("opensbi", 0.4, "OpenSBI v1.3"), ("prompt", 2.5, "=> "))


def made_up_run(
    folder: Path,
    board: str = "qemu-virt",
    *,
    plan: str = "uboot-smoke",
    plan_path: Path | None = None,
    milestones: tuple[tuple[str, float, str], ...] = MILESTONES,
) -> Path:
    """A run folder of ``plan`` that passed on ``board``, reaching ``milestones`` (name, time, line)."""
    folder.mkdir(parents=True)
    reached, last = [], 0.0
    for name, t, line in milestones:
        reached.append({"name": name, "t": t, "delta": t - last, "line": line})
        last = t
    report = {
        "schema": "hartbeat.report/1",
        "plan": {"name": plan, **({"path": str(plan_path)} if plan_path else {})},
        "board": {"name": board},
        "verdict": {"kind": "pass", "reason": f"all {len(reached)} milestones reached", "at": last},
        "milestones": reached,
    }
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    log = "".join(f"[{t:12.6f}] {line}\n" for _name, t, line in milestones)
    (folder / "console.log").write_text(log, encoding="utf-8")
    return folder
