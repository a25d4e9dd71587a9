"""Which shipped plan runs on which shipped board, and which test proves it: the README's table.

Every cell is either :class:`Runs` (the test that runs that plan on that board, unchanged, to a
pass ending with the plan's ``off`` step) or :class:`NotApplicable` (why the plan cannot pass
there). The real Unmatched is stood in for by the virtual lab's serial board in two set-ups: QEMU
virt with OpenSBI + U-Boot loaded into RAM, and QEMU sifive_u booting Debian's SiFive chain from
an SD card; both behind a pty and an HTTP power plug, reached through the serial target.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runs:
    """The test (``path::function``) that runs the plan on the board."""

    test: str


@dataclass(frozen=True)
class NotApplicable:
    """Why the plan does not apply to the board (a key of :data:`REASONS`)."""

    reason: str


Cell = Runs | NotApplicable

HERE = "tests/test_plan_matrix.py::test_shipped_plan_on_board"
LAB = "tests/lab/test_serial_lab.py::test_shipped_uboot_plans_on_a_serial_board"
LAB_SD = "tests/lab/test_sdcard_lab.py::test_unmatched_boot_plan_passes_unchanged_on_a_serial_board"
PLUGIN = "tests/pytest_plugin/test_plugin.py::test_pytest_plugin_runs_plans_and_writes_junit"
QEMU_SMOKE = "tests/targets/test_qemu.py::test_uboot_smoke_passes"
EMU_SMOKE = "tests/targets/test_emulator.py::test_uboot_smoke_on_the_emulator"
QEMU_LINUX = "tests/linux/test_linux_boot.py::test_linux_boot_and_stress_on_qemu"
EMU_LINUX = "tests/linux/test_linux_boot.py::test_linux_boot_on_the_emulator"
QSOE_QEMU = "tests/images/test_qsoe_compare.py::test_good_and_wedging_builds_diverge_after_usr_mounted"
QSOE_EMU = "tests/bisect/test_bisect_qemu.py::test_series_culprit_in_log2_candidate_boots"

# The board columns: the shipped profiles, and the lab's two stand-ins for the real Unmatched.
BOARDS = (
    "qemu-virt",
    "qemu-sifive-u",
    "qemu-sifive-u-sd",
    "emulator-virt",
    "emulator-unmatched",
    "emulator-unmatched-sd",
    "qemu-qsoe",
    "emulator-qsoe",
    "unmatched (lab: U-Boot in RAM)",
    "unmatched (lab: SD card)",
)
PLANS = ("uboot-smoke", "uboot-shell", "linux-boot", "linux-shell", "linux-stress", "qsoe-boot", "unmatched-boot")

REASONS = {
    "no-uboot": "a bare-metal qsoe-sim kernel: no OpenSBI, U-Boot or Linux",
    "not-qsoe": "qsoe-boot expects qsoe-sim's banner and login (its `boards` are `*qsoe*`)",
    "spl-chain": (
        "U-Boot SPL starts OpenSBI with no boot prints: no `OpenSBI v` banner (unmatched-boot is this chain's plan)"
    ),
    "card-kernel": (
        "boots the kernel on its SD card, not the plan's [images] kernel (unmatched-boot boots Linux from the card)"
    ),
    "bench-kernel": "a bench board boots what its card or TFTP folder holds, not the plan's [images] kernel",
    "no-card": (
        "no SD card chain: the firmware is loaded straight into RAM, no SPL, no extlinux "
        "(emulator-unmatched-sd is the emulator's card chain)"
    ),
}

# The boards that boot SiFive's chain from an SD card.
SD_BOARDS = ("qemu-sifive-u-sd", "emulator-unmatched-sd")

_QEMU_FW = {"qemu-virt": PLUGIN, "qemu-sifive-u": HERE}


def _cell(plan: str, board: str) -> Cell:
    qsoe = "qsoe" in board
    if plan == "qsoe-boot":
        return Runs(QSOE_QEMU if board == "qemu-qsoe" else QSOE_EMU) if qsoe else NotApplicable("not-qsoe")
    if qsoe:
        return NotApplicable("no-uboot")
    if plan == "unmatched-boot":
        if board in SD_BOARDS:
            return Runs(HERE)
        return Runs(LAB_SD) if board.endswith("SD card)") else NotApplicable("no-card")
    sd = board in SD_BOARDS or board.endswith("SD card)")
    if plan.startswith("uboot-"):
        if sd:
            return NotApplicable("spl-chain")
        if board.startswith("unmatched"):
            return Runs(LAB)
        if plan == "uboot-smoke":
            return Runs({"qemu-virt": QEMU_SMOKE, "qemu-sifive-u": QEMU_SMOKE}.get(board, EMU_SMOKE))
        return Runs(_QEMU_FW.get(board, HERE))
    # linux-boot, linux-shell, linux-stress: the plan's kernel and initramfs on the board's firmware.
    if board in SD_BOARDS:
        return NotApplicable("card-kernel")
    if board.startswith("unmatched"):
        return NotApplicable("bench-kernel")
    if board.startswith("emulator"):
        return Runs(EMU_LINUX) if plan == "linux-boot" else Runs(HERE)
    if board == "qemu-virt":
        return Runs(PLUGIN)
    return Runs(QEMU_LINUX) if plan in ("linux-boot", "linux-stress") else Runs(HERE)


MATRIX: dict[tuple[str, str], Cell] = {(plan, board): _cell(plan, board) for plan in PLANS for board in BOARDS}


def runs_here() -> list[tuple[str, str]]:
    """The (plan, board) pairs tests/test_plan_matrix.py runs itself."""
    return [key for key, cell in MATRIX.items() if cell == Runs(HERE)]


def markdown() -> str:
    """The README's table: ``pass`` or ``n/a (key)``, then the reasons and the tests."""
    letters = {key: chr(ord("a") + i) for i, key in enumerate(REASONS)}
    lines = ["| plan \\ board | " + " | ".join(f"`{b}`" for b in BOARDS) + " |"]
    lines.append("|---" * (len(BOARDS) + 1) + "|")
    for plan in PLANS:
        cells = []
        for board in BOARDS:
            cell = MATRIX[plan, board]
            if isinstance(cell, Runs):
                cells.append("pass")
            else:
                cells.append(f"n/a ({letters[cell.reason]})")
        lines.append(f"| `{plan}` | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"({letters[key]}) {text}  " for key, text in REASONS.items()]
    return "\n".join(lines).rstrip() + "\n"
