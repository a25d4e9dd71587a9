"""The ``[ssh]`` and ``[deploy]`` sections (and the ssh power backend's login keys), read and checked.

Reading needs no paramiko, so a board profile validates without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.board import Board
from harness.model.config import Section

DEFAULT_CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SshSettings:
    """Where and how to log in; ``section`` names the profile table for messages."""

    host: str
    section: str
    source: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    password_env: str | None = None
    known_hosts: str | None = None
    insecure_ignore_host_key: bool = False
    timeout: float = DEFAULT_CONNECT_TIMEOUT

    @property
    def where(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class DeploySettings:
    """``[deploy]``: the SSH login, the remote folder and which image slots to copy (all if empty)."""

    ssh: SshSettings
    dest: str
    slots: tuple[str, ...] = ()


def read_settings(section: Section, board: Board) -> SshSettings:
    """Read the login keys of ``section``; the caller rejects unknown keys after its own."""
    port = section.integer("port", 22)
    if port is None or not 0 < port < 65536:
        raise section.error("port", f"expected a TCP port 1-65535, got {port!r}")
    key_file = section.string("key_file")
    known_hosts = section.string("known_hosts")
    return SshSettings(
        host=board.expand(section.string("host", required=True) or "", section.key("host")),
        section=section.prefix,
        source=str(section.source),
        port=port,
        user=section.string("user", "root") or "root",
        key_file=str(Path(board.expand(key_file, section.key("key_file"))).expanduser()) if key_file else None,
        password_env=section.string("password_env"),
        known_hosts=str(Path(board.expand(known_hosts, section.key("known_hosts"))).expanduser())
        if known_hosts
        else None,
        insecure_ignore_host_key=section.boolean("insecure_ignore_host_key"),
        timeout=section.duration("timeout", DEFAULT_CONNECT_TIMEOUT),
    )


def validate(board: Board) -> set[str]:
    """Check ``[ssh]`` and ``[deploy]`` when present; returns the top-level keys they use."""
    used = set()
    if "ssh" in board.settings:
        ssh_settings_from(board)
        used.add("ssh")
    if "deploy" in board.settings:
        deploy_settings_from(board)
        used.add("deploy")
    return used


def ssh_settings_from(board: Board) -> SshSettings:
    """The board's ``[ssh]`` section."""
    section = board.section("ssh")
    settings = read_settings(section, board)
    section.reject_unknown()
    return settings


def deploy_settings_from(board: Board) -> DeploySettings:
    """The board's ``[deploy]`` section."""
    section = board.section("deploy")
    settings = DeploySettings(
        ssh=read_settings(section, board),
        dest=section.string("dest", required=True) or "",
        slots=tuple(section.str_list("slots")),
    )
    unknown = [slot for slot in settings.slots if slot not in board.images]
    if unknown:
        known = ", ".join(sorted(board.images)) or "none"
        raise section.error("slots", f"no image slot {unknown[0]!r} on this board; slots: {known}")
    section.reject_unknown()
    return settings


def describe(settings: SshSettings) -> dict[str, Any]:
    """The login for a report: where, as whom, how the host key is checked; never the secret."""
    return {
        "where": settings.where,
        "host_key": "NOT VERIFIED (insecure_ignore_host_key)"
        if settings.insecure_ignore_host_key
        else known_hosts_name(settings),
        "auth": ", ".join(
            item
            for item in (
                f"key {settings.key_file}" if settings.key_file else "",
                f"password from ${settings.password_env}" if settings.password_env else "",
            )
            if item
        )
        or "agent/default keys",
    }


def known_hosts_name(settings: SshSettings) -> str:
    """The known-hosts file the board's host key is checked against, as error messages name it."""
    return settings.known_hosts or "~/.ssh/known_hosts"
