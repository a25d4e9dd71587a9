"""``[ssh]`` and ``[deploy]`` read and checked (harness/ssh/settings.py), without paramiko."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.board import Board
from harness.ssh.settings import deploy_settings_from, describe, ssh_settings_from, validate


def board(**settings: dict) -> Board:
    return Board(
        name="b",
        path=Path("/lab/b.toml"),
        target="qemu",
        images={"kernel": "/i/Image", "initrd": "/i/initrd"},
        variables={"ip": "10.0.0.7"},
        settings=settings,
    )


def test_a_login_with_its_defaults_and_variables() -> None:
    settings = ssh_settings_from(board(ssh={"host": "{ip}"}))
    assert (settings.where, settings.section, settings.source) == ("root@10.0.0.7:22", "ssh", "/lab/b.toml")
    assert (settings.key_file, settings.known_hosts, settings.timeout) == (None, None, 10.0)
    assert describe(settings) == {
        "where": "root@10.0.0.7:22",
        "host_key": "~/.ssh/known_hosts",
        "auth": "agent/default keys",
    }


def test_the_report_never_shows_the_secret_and_says_when_the_host_is_not_verified() -> None:
    settings = ssh_settings_from(
        board(
            ssh={
                "host": "h",
                "port": 2222,
                "user": "ci",
                "key_file": "~/k",
                "password_env": "PW",
                "insecure_ignore_host_key": True,
            }
        )
    )
    assert settings.key_file == str(Path("~/k").expanduser())
    shown = describe(settings)
    assert shown["where"] == "ci@h:2222" and shown["host_key"] == "NOT VERIFIED (insecure_ignore_host_key)"
    assert shown["auth"] == f"key {settings.key_file}, password from $PW"


@pytest.mark.parametrize(
    ("ssh", "key", "words"),
    [
        ({}, "ssh.host", "missing; expected a string"),
        ({"host": "h", "port": 0}, "ssh.port", "expected a TCP port 1-65535, got 0"),
        ({"host": "h", "port": 70000}, "ssh.port", "expected a TCP port 1-65535"),
        ({"host": "h", "timeout": "soon"}, "ssh.timeout", "expected a duration"),
        ({"host": "h", "pasword_env": "PW"}, "ssh.pasword_env", "did you mean 'password_env'"),
        ({"host": "{nope}"}, "ssh.host", "unknown variable {nope}"),
    ],
)
def test_a_bad_login_names_the_key(ssh: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        ssh_settings_from(board(ssh=ssh))
    assert str(error.value).startswith(f"/lab/b.toml: {key}: ") and words in str(error.value)


def test_deploy_names_its_destination_and_slots_the_board_has() -> None:
    deploy = deploy_settings_from(board(deploy={"host": "h", "dest": "/boot", "slots": ["kernel"]}))
    assert (deploy.dest, deploy.slots, deploy.ssh.section) == ("/boot", ("kernel",), "deploy")
    with pytest.raises(ConfigError, match=r"deploy.slots: no image slot 'dtb' on this board; slots: initrd, kernel"):
        deploy_settings_from(board(deploy={"host": "h", "dest": "/boot", "slots": ["dtb"]}))
    with pytest.raises(ConfigError, match=r"deploy.dest: missing"):
        deploy_settings_from(board(deploy={"host": "h"}))


def test_validate_checks_the_sections_present_and_names_them() -> None:
    assert validate(board()) == set()
    assert validate(board(ssh={"host": "h"}, deploy={"host": "h", "dest": "/d"})) == {"ssh", "deploy"}
    with pytest.raises(ConfigError, match=r"ssh\.port"):
        validate(board(ssh={"host": "h", "port": -1}))
