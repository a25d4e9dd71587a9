"""The virtual lab's serial board as a HiFive booting its SD card: the shipped unmatched-boot plan."""

from __future__ import annotations

import json

from harness.engine.verdict import Kind
from harness.model.board import PROJECT_ROOT

PLAN = (PROJECT_ROOT / "testplans" / "unmatched-boot.toml").read_text()


def test_unmatched_boot_plan_passes_unchanged_on_a_serial_board(sdcard_lab):
    result = sdcard_lab.run(sdcard_lab.board_file(), PLAN)
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    reached = {m.name: m for m in result.milestones}
    assert reached["spl"].captures["spl"].startswith("20")
    assert reached["model"].captures["model"] == "SiFive HiFive Unleashed A00"
    assert reached["extlinux"].captures["bootflow"].startswith("mmc@0.bootdev.part_")
    # The end of the test: the plug switched the board off; nothing typed, no second boot.
    assert reached["power-off"].line.startswith("switched off by hartbeat")
    log = (sdcard_lab.folder / "run" / "console.log").read_text()
    assert log.count("U-Boot SPL 20") == 1 and "poweroff" not in log and "reset" not in log.split("hartbeat#")[-1]
    assert [r.split("cmnd=")[1] for r in sdcard_lab.switch.requests] == ["Power%20Off", "Power%20On", "Power%20Off"]
    assert not sdcard_lab.board.running
    report = json.loads((sdcard_lab.folder / "run" / "report.json").read_text())
    assert report["verdict"]["kind"] == "pass"
