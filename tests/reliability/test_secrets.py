"""Credentials in an HTTP power URL (case 5): refused with a message that never shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import hartbeat, write

PLAN = '[[milestone]]\nname = "a"\nexpect = "ok"\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:s3cretPW@127.0.0.1/cm?cmnd=Power%20On",
        "http://admin:s3cretPW@127.0.0.1:8080/cm?cmnd=Power%20On",
        "https://admin@127.0.0.1/on",
    ],
)
def test_credentials_in_a_power_url_are_refused_without_showing_them(tmp_path: Path, url: str) -> None:
    board = write(
        tmp_path / "board.toml",
        f'target = "serial"\n[serial]\nport = "/dev/ttyNOPE7"\n[power]\nbackend = "http"\non = "{url}"\n'
        'off = "http://127.0.0.1/off"\n',
    )
    plan = write(tmp_path / "plan.toml", PLAN)
    for extra in ((), ("--out", "run")):
        command = "run" if extra else "check"
        proc = hartbeat(command, str(plan), "--board", str(board), *extra, cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert "s3cretPW" not in proc.stdout + proc.stderr
        assert "power.on.url" in proc.stderr and "password_env" in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()


def test_a_bad_port_is_a_config_error(tmp_path: Path) -> None:
    board = write(
        tmp_path / "board.toml",
        'target = "serial"\n[serial]\nport = "/dev/ttyNOPE7"\n[power]\nbackend = "http"\n'
        'on = "http://127.0.0.1:99999/on"\noff = "http://127.0.0.1/off"\n',
    )
    plan = write(tmp_path / "plan.toml", PLAN)
    proc = hartbeat("check", str(plan), "--board", str(board), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "power.on.url" in proc.stderr, proc.stderr
