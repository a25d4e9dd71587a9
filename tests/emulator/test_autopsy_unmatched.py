"""A five-hart FU740 boot on the emulator whose secondary harts never start (issue 19's acceptance).

OpenSBI hands one U74 to U-Boot, a single-hart payload: the S7 monitor core and the other U74s
stay in OpenSBI for good. A plan that waits for something after U-Boot's prompt wedges there,
and the autopsy finds every hart but U-Boot's in M-mode in OpenSBI's image (Debian's fw_jump.elf,
stripped: named by image and offset, found beside the board's fw_jump.bin).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.autopsy.model import HartClass, Privilege
from harness.model.plan import load_plan
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare

FIRMWARE = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.elf")

PLAN = """
name = "uboot-then-quiet"
timeout = "3m"
[[milestone]]
name = "opensbi"
expect = 'OpenSBI v'
within = "30s"
[[milestone]]
name = "boot-hart"
expect = '^Boot HART ID\\s*: (?P<hart>\\d+)'
within = "10s"
[[milestone]]
name = "autoboot"
expect = 'Hit any key to stop autoboot'
within = "60s"
[[milestone]]
name = "prompt"
keys = "\\r"
expect = '=> $'
within = "20s"
[[milestone]]
name = "nothing-more"
expect = 'no line says this'
within = "60s"
# A third of a guest second of quiet at the prompt is the wedge (U-Boot polls the console, so
# guest time runs at the emulator's speed).
silence = "0.3s"
"""


def test_harts_that_never_start_sit_in_opensbi(tmp_path: Path) -> None:
    if not FIRMWARE.is_file():
        pytest.skip(f"{FIRMWARE} not installed (Debian's opensbi)")
    (tmp_path / "plan.toml").write_text(PLAN)
    runner = Runner(
        prepare(load_plan(tmp_path / "plan.toml"), load_board("emulator-unmatched")), out_dir=tmp_path / "run"
    )
    result = runner.run()
    assert result.verdict.kind.value == "wedge" and result.verdict.waiting_for == "nothing-more", result.verdict.reason
    boot_hart = int(result.milestones[1].captures["hart"])
    autopsy = result.autopsy
    assert autopsy is not None and autopsy.available, autopsy
    assert [h.hart for h in autopsy.harts] == [0, 1, 2, 3, 4]
    for hart in autopsy.harts:
        assert hart.state is not None
        if hart.hart == boot_hart:
            # U-Boot polls the console for a key: it runs, in S-mode.
            assert hart.state.mode is Privilege.S and hart.klass in (HartClass.RUNNING, HartClass.SPINNING)
            continue
        assert hart.state.mode is Privilege.M
        assert hart.where is not None and hart.where.image == "fw_jump.elf" and hart.where.function is None
        # In wfi; or in OpenSBI's wfi loop, which spins while an enabled IPI stays pending.
        assert hart.klass in (HartClass.IDLE, HartClass.SPINNING)
    assert autopsy.harts[0].klass is HartClass.IDLE  # the S7 has no S-mode: OpenSBI parks it for good
    assert "fw_jump.elf" in " ".join(autopsy.symbols)
