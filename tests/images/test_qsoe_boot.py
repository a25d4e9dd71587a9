"""Boot each qsoe-sim fault under QEMU and check the console tells the right story."""

from __future__ import annotations

import re
import subprocess

import pexpect
import pytest

MOUNTED = r"fs-qrv: mounted qrvfs at /usr \(dev=/dev/nvme0n1p8\)\r\n"
SPAWN_TRACE = r"tm_msg 0x11b\s+<- TM_REQ_SPAWN\s+exec level1\.sh\r\n"

# pexpect 4.8 PopenSpawn calls the deprecated Thread.setDaemon().
pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")


def test_normal_boot_logs_in_echoes_and_powers_off(build_image, boot):
    console = boot(build_image(BUILD_NO=7, BUILD_ID="t0007"))
    console.expect(r"QSOE/sim v0\.7 \(build t0007\) hart0 up, 2 harts\r\n")
    console.expect("login: ")
    for line in ("[init] starting taskman", "spawn: fs-qrv", "spawn: level1.sh", "[init] level1 done"):
        assert line in console.text
    console.sendline("root")
    console.expect(r"\r\n# ")
    # The shell echoes what is typed, so match the output line, not the echoed command.
    console.sendline("echo hello from hartbeat")
    console.expect(r"\r\nhello from hartbeat\r\n# ")
    console.sendline("poweroff")
    assert console.wait_exit() == 0


def test_wedge_goes_silent_while_both_harts_spin(build_image, boot):
    console = boot(build_image(FAULT="wedge"))
    console.expect(MOUNTED)
    console.expect(SPAWN_TRACE)
    cpu_before = console.cpu_seconds()
    # A deadlock, not an idle machine: the harts keep burning host CPU in their spin loops, and
    # the console stays silent all the while. The CPU is measured, not the wall clock, so a
    # loaded host only makes the silence longer before a second of spinning is seen.
    for _ in range(10):
        assert console.read_for(1.0) == b""
        assert console.alive
        if console.cpu_seconds() - cpu_before > 1.0:
            break
    assert console.cpu_seconds() - cpu_before > 1.0


@pytest.mark.parametrize(
    ("make_vars", "reason"),
    [
        ({"FAULT": "panic"}, "fs-qrv: bad superblock magic 0xdeadbeef"),
        ({"UNRELATED_PANIC": 1}, "devb-nvme: controller timeout"),
    ],
    ids=["culprit", "unrelated"],
)
def test_panic_reports_then_halts(build_image, boot, make_vars, reason):
    console = boot(build_image(**make_vars))
    console.expect(re.escape(f"Kernel panic - not syncing: {reason}\r\n"))
    console.expect(r"Call Trace:\r\n\[<[0-9a-f]{16}>\]")
    console.expect(re.escape(f"---[ end Kernel panic - not syncing: {reason} ]---\r\n"))
    cpu_before = console.cpu_seconds()
    assert console.read_for(1.5) == b""
    # Both harts sit in wfi after a panic, unlike the wedge.
    assert console.cpu_seconds() - cpu_before < 0.75


def test_stall_floods_the_console_and_never_logs_in(build_image, boot):
    console = boot(build_image(FAULT="stall"))
    console.expect(MOUNTED)
    text = console.read_for(3.5).decode()
    counters = [int(n) for n in re.findall(r"TM_REQ_MMAP\s+addr=0x[0-9a-f]+ len=4096 n=(\d+)", text)]
    assert len(counters) > 100
    assert counters == sorted(counters) and len(set(counters)) == len(counters)
    assert "login:" not in text
    assert console.alive


def test_nofence_boots_on_qemu(build_image, boot):
    console = boot(build_image(FAULT="nofence"))
    console.expect("login: ")
    assert "Kernel panic" not in console.text


def test_bad_fault_name_is_rejected(build_image, qsoe_src, tmp_path):
    build_image()  # skips when the toolchain is missing
    proc = subprocess.run(
        ["make", "-s", "-f", str(qsoe_src / "Makefile"), f"BUILD_DIR={tmp_path}", "FAULT=flaky:abc"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "flaky needs a percentage" in proc.stderr


def test_unknown_command_and_login_with_crlf(build_image, boot):
    console = boot(build_image())
    console.expect("login: ")
    console.child.send("root\r\n")
    console.expect(r"\r\n# ")
    console.sendline("frobnicate")
    console.expect(r"\r\nsh: frobnicate: not found\r\n# ")
    # CRLF must not produce a second, empty prompt.
    assert console.read_for(0.3) == b""
    console.sendline("poweroff")
    assert console.wait_exit() == 0


def test_boot_is_quick(build_image, boot):
    console = boot(build_image())
    try:
        console.expect("login: ", timeout=2)
    except pexpect.TIMEOUT:
        pytest.fail("normal boot took more than 2 s to reach login")
