"""Every run folder this test session created, replayed: each gives its live verdict.

Named to run last (pytest collects files in name order), so under the full suite it sees the
runs of every other test: scripted verdicts, QEMU and emulator boots, qsoe-sim wedges, bisect
series, interrupted and killed runs. Under pytest-xdist it is handed out last and waits for the
other workers to finish (``all_runs_root``, see tests/workers.py), then replays every worker's
runs. ``replay-all.txt`` in the session's temporary folder lists what was replayed and what was
not, and why.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.analysis.replay import replay, replayable
from harness.records.run_folder import find_runs, load_run


def test_every_recorded_run_replays_to_its_live_verdict(all_runs_root: Path) -> None:
    root = all_runs_root
    replayed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    differ = []
    notes = []
    for folder in find_runs(root):
        run = load_run(folder)
        why = replayable(run)
        if why:
            skipped[why.split(":")[0]] += 1
            notes.append(f"not replayed {folder.relative_to(root)}: {why}")
            continue
        result = replay(folder)
        replayed[run.kind] += 1
        differences = result.differences()
        notes.append(f"{run.kind:6} {folder.relative_to(root)}: {'; '.join(differences) or 'same as live'}")
        if differences:
            differ.append(f"{folder}: {'; '.join(differences)}")
    summary = (
        f"replayed {sum(replayed.values())} runs ({dict(sorted(replayed.items()))}), {len(differ)} differ; "
        f"not replayed {sum(skipped.values())} ({dict(skipped)})"
    )
    (root / "replay-all.txt").write_text(summary + "\n" + "\n".join(notes) + "\n", encoding="utf-8")
    print(summary)
    if not replayed:
        pytest.skip("no run folders were created in this session (run it with the rest of the suite)")
    assert not differ, "\n".join(differ)
