"""The wedge autopsy on hartbeat's tiny Linux (issue 19's acceptance), on QEMU and on the emulator.

tests/linux/plans/linux-wedge.toml boots to the shell and runs an hbtest program that never returns:
`wedge-spin` spins in user mode, `wedge-kernel` has LKDTM loop in the kernel with preemption off.
The autopsy must find the hart in U-mode spinning in the test program (named from hbtest's symbol
table), or in S-mode in LKDTM's loop (named from the kernel's System.map / vmlinux); on QEMU the
SysRq probe (`[autopsy] sysrq = "lw"`) must name the same kernel function from Linux's own
answer. The replay of each run decides what the live run decided.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.autopsy.model import Autopsy, HartAutopsy, HartClass, LoopWait, Privilege, SysrqCpu
from harness.autopsy.render import autopsy_lines
from harness.model.board import PROJECT_ROOT
from harness.model.plan import load_plan
from harness.records.results import RunResult
from harness.run.board_loader import load_board
from harness.run.runner import Runner
from harness.run.setup import prepare

PLAN = PROJECT_ROOT / "tests" / "linux" / "plans" / "linux-wedge.toml"


# Debian's OpenSBI 1.1 can start a secondary hart at the stale FW_JUMP_ADDR (its hart-start race,
# fixed in 1.3; benchmarks/smp_race.py forces it): Linux then says the CPU never came online, and
# that hart spins in the kernel's boot code, a second busy hart that is not what these tests are
# about. On QEMU, whose threads make the race a matter of chance, such a boot is run once more.
OPENSBI_START_RACE = "CPU1: failed to come online"


def wedge_run(board_name: str, wedge: str, image: Path, folder: Path) -> RunResult:
    if board_name.startswith("qemu") and shutil.which("qemu-system-riscv64") is None:
        pytest.skip("qemu-system-riscv64 not installed (make deps)")
    # On the emulator the plan's limits are guest seconds (the emulator reports its own time).
    board = load_board(board_name, images=[("kernel", str(image / "Image")), ("initrd", str(image / "initramfs.cpio"))])
    plan = load_plan(PLAN)
    for attempt in ("", "-again"):
        out_dir = folder / f"{board_name}-{wedge}{attempt}"
        result = Runner(prepare(plan, board, variables={"wedge": wedge}), out_dir=out_dir).run()
        raced = OPENSBI_START_RACE in (out_dir / "console.log").read_text(errors="replace")
        if not (raced and board_name.startswith("qemu")):
            break
    return result


def busy_hart(autopsy: Autopsy) -> HartAutopsy:
    """The hart that is not idle (the others sleep in the idle loop)."""
    busy = [h for h in autopsy.harts if h.klass is not HartClass.IDLE]
    assert len(busy) == 1, autopsy_lines(autopsy)
    return busy[0]


def _idle(cpu: SysrqCpu) -> bool:
    """A CPU ``l`` showed in the kernel's idle loop (the idle task, or its idle call in the trace)."""
    names = {f.where.function for f in cpu.frames if f.where is not None}
    return (cpu.comm or "").startswith("swapper") or bool(names & {"arch_cpu_idle", "default_idle_call"})


def majority_mode(hart: HartAutopsy) -> Privilege:
    modes = [s.mode for s in hart.samples]
    return max(set(modes), key=modes.count)


@pytest.mark.parametrize("board_name", ["qemu-virt", "emulator-virt"])
def test_a_user_program_spinning_is_found_in_u_mode_in_its_function(
    board_name: str, linux_image: Path, tmp_path: Path
) -> None:
    result = wedge_run(board_name, "wedge-spin", linux_image, tmp_path)
    assert result.verdict.kind.value == "wedge" and result.verdict.milestone == "hang", result.verdict.reason
    autopsy = result.autopsy
    assert autopsy is not None and autopsy.available, autopsy
    hart = busy_hart(autopsy)
    text = "\n".join(autopsy_lines(autopsy))
    assert majority_mode(hart) is Privilege.U, text
    assert hart.klass is HartClass.SPINNING, text
    assert "wedge_spin" in text, text
    # A counter on its own stack: the loop waits for nobody, so no other hart is said to wait on it.
    assert hart.loop is LoopWait.NOTHING, text
    sysrq = autopsy.sysrq
    assert sysrq is not None
    # The BREAK reached Linux (QEMU: QMP; the emulator: its control socket into the 16550), and
    # `l` shows every CPU: the one that took the console's interrupt by its registers, the others
    # by an IPI's trace. The spinning one is `(hbtest)` or in user mode, unless the interrupt came
    # to an idle CPU and the IPI found the spinning one in the kernel (a timer tick: once
    # `_find_first_bit`, on a loaded host): then it is the one CPU not in the idle loop, by a trace.
    summary = sysrq.summary()
    assert sysrq.answered, summary
    assert len(sysrq.cpus) == len(autopsy.harts), summary
    if "user mode" not in summary and "(hbtest)" not in summary:
        busy_cpus = [c for c in sysrq.cpus if not _idle(c)]
        assert len(busy_cpus) == 1 and busy_cpus[0].epc is None and busy_cpus[0].frames, summary
    assert replay(result.out_dir).differences() == []


# On QEMU only: the emulator's Linux boot is the suite's slowest step, and its backend's kernel-mode
# reads and backtraces are covered on emulator-virt by the spin test's idle hart.
@pytest.mark.parametrize("board_name", ["qemu-virt"])
def test_a_kernel_loop_is_named_from_the_kernel_symbols(board_name: str, linux_image: Path, tmp_path: Path) -> None:
    result = wedge_run(board_name, "wedge-kernel", linux_image, tmp_path)
    assert result.verdict.kind.value == "wedge" and result.verdict.milestone == "hang", result.verdict.reason
    autopsy = result.autopsy
    assert autopsy is not None and autopsy.available, autopsy
    hart = busy_hart(autopsy)
    assert majority_mode(hart) is Privilege.S
    # The loop is lkdtm_SOFTLOCKUP calling cpu_relax: the pc in either, the caller named too.
    named = [f.where.function for f in hart.backtrace if f.where is not None]
    named += [w.function for w in (hart.where, hart.ra_where) if w is not None]
    assert "lkdtm_SOFTLOCKUP" in named, autopsy_lines(autopsy)
    assert "lkdtm_do_action" in named, autopsy_lines(autopsy)
    # lkdtm_SOFTLOCKUP calls cpu_relax out of line: the callee is followed, and reads only its stack.
    assert hart.loop is LoopWait.NOTHING, autopsy_lines(autopsy)
    sysrq = autopsy.sysrq
    assert sysrq is not None
    # Linux's own answer, printed on the console after the verdict and kept in the log.
    assert sysrq.answered, sysrq.summary()
    # The CPU that took the console's interrupt shows its registers (pc and caller); one shown
    # by an IPI only its trace, which ends where it was interrupted: in the loop.
    assert "lkdtm_SOFTLOCKUP" in sysrq.summary() or "in cpu_relax" in sysrq.summary(), sysrq.summary()
    log = (result.out_dir / "console.log").read_text()
    assert "sysrq: Show backtrace of all active CPUs" in log
    assert replay(result.out_dir).differences() == []
