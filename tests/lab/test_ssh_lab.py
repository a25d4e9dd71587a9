"""Deploy by SFTP and SSH check steps against a throw-away local sshd, with the secrets kept out."""

from __future__ import annotations

import time
from pathlib import Path

from harness.engine.verdict import Kind

from .conftest import KEY_PASSPHRASE, PLUG_PASSWORD, UBOOT_PLAN

SSH_STEPS = """
[[milestone]]
name = "deployed"
ssh = "cat {dest}/Image.bin"
expect = '^fake kernel for (?P<board>\\S+)$'
within = "20s"

[[milestone]]
name = "exit-status"
ssh = "echo checked; exit 3"
status = 3
expect = 'checked'
within = "10s"
"""


def ssh_tables(sshd, *, known_hosts: Path, dest: Path) -> str:
    login = f"""
host = "127.0.0.1"
port = {sshd.port}
user = "{sshd.user}"
key_file = "{sshd.user_key}"
password_env = "LAB_KEY_PASSPHRASE"
known_hosts = "{known_hosts}"
"""
    return f'\n[ssh]{login}\n[deploy]{login}dest = "{dest}/{{board}}"\n'


def image(lab) -> Path:
    path = lab.folder / "build" / "Image.bin"
    path.parent.mkdir(exist_ok=True)
    path.write_text("fake kernel for lab-board\n", encoding="utf-8")
    return path


def test_deploy_then_ssh_steps_pass_and_no_secret_reaches_the_run_folder(lab, sshd, monkeypatch):
    monkeypatch.setenv("LAB_KEY_PASSPHRASE", KEY_PASSPHRASE)
    tftp = lab.folder / "tftp"
    extra = f'\n[images]\nkernel = "{image(lab)}"\n' + ssh_tables(sshd, known_hosts=sshd.known_hosts, dest=tftp)
    plan = UBOOT_PLAN + SSH_STEPS.replace("{dest}", str(tftp / "lab-board"))
    result = lab.run(lab.board_file(extra=extra), plan)
    assert result.verdict.kind is Kind.PASS, result.verdict.summary()
    assert (tftp / "lab-board" / "Image.bin").read_text() == "fake kernel for lab-board\n"
    assert [m.name for m in result.milestones][-2:] == ["deployed", "exit-status"]
    ssh_log = (lab.folder / "run" / "ssh.log").read_text()
    assert "deploy kernel:" in ssh_log and "exit status 3" in ssh_log

    key_body = [line for line in sshd.user_key.read_text().splitlines() if "PRIVATE KEY" not in line]
    secrets = [PLUG_PASSWORD, KEY_PASSPHRASE, *key_body]
    for path in (lab.folder / "run").rglob("*"):
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"a secret leaked into {path}"


def test_a_failing_ssh_check_is_a_fail_with_the_output(lab, sshd, monkeypatch):
    monkeypatch.setenv("LAB_KEY_PASSPHRASE", KEY_PASSPHRASE)
    extra = ssh_tables(sshd, known_hosts=sshd.known_hosts, dest=lab.folder / "tftp").split("\n[deploy]")[0]
    plan = """
        [[milestone]]
        name = "kernel-version"
        ssh = "echo 6.1.0-unexpected"
        expect = '^6\\.6\\.'
        within = "10s"
        """
    result = lab.run(lab.board_file(extra=extra), plan)
    assert result.verdict.kind is Kind.FAIL
    assert "check `kernel-version` failed" in result.verdict.reason
    assert "6.1.0-unexpected" in result.verdict.reason


def test_an_unknown_host_key_is_refused(lab, sshd, monkeypatch):
    monkeypatch.setenv("LAB_KEY_PASSPHRASE", KEY_PASSPHRASE)
    empty = lab.folder / "empty_known_hosts"
    empty.write_text("", encoding="utf-8")
    extra = ssh_tables(sshd, known_hosts=empty, dest=lab.folder / "tftp")
    result = lab.run(lab.board_file(extra=extra), UBOOT_PLAN)
    assert result.verdict.kind is Kind.ERROR
    assert "unknown host key, refused" in result.verdict.reason
    assert not (lab.folder / "tftp").exists()


def test_an_ssh_command_that_keeps_printing_times_out_as_a_whole(lab, sshd, monkeypatch):
    monkeypatch.setenv("LAB_KEY_PASSPHRASE", KEY_PASSPHRASE)
    extra = ssh_tables(sshd, known_hosts=sshd.known_hosts, dest=lab.folder / "tftp").split("\n[deploy]")[0]
    plan = """
        [[milestone]]
        name = "trickle"
        ssh = "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 1; done"
        within = "3s"
        """
    start = time.monotonic()
    result = lab.run(lab.board_file(extra=extra), plan)
    assert result.verdict.kind is Kind.STALL, result.verdict.summary()
    assert "still running after" in result.verdict.reason
    # A per-read timeout would have let it run its full 8 s.
    assert time.monotonic() - start < 7.5
