"""Connecting with verified host keys and running a command: all that the ssh power backend needs."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from harness.errors import TargetError
from harness.ssh.settings import SshSettings, known_hosts_name

log = logging.getLogger("hartbeat.ssh")

RETRY_INTERVAL = 1.0


class _LoggedAcceptPolicy(paramiko.MissingHostKeyPolicy):
    """The opt-out: accept any host key, and say so every time."""

    def __init__(self, settings: SshSettings) -> None:
        self.settings = settings

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        log.warning(
            "%s: %s.insecure_ignore_host_key = true: accepting %s host key %s of %s without verification",
            self.settings.source,
            self.settings.section,
            key.get_name(),
            key.fingerprint,
            hostname,
        )


class _Unrecoverable(TargetError):
    """A connection problem that retrying cannot fix (host key, authentication, missing secret)."""


def connect(settings: SshSettings) -> paramiko.SSHClient:
    """An authenticated client, or :class:`TargetError` saying what to fix."""
    password = None
    if settings.password_env:
        password = os.environ.get(settings.password_env)
        if not password:
            raise _Unrecoverable(
                f"{settings.source}: {settings.section}.password_env: environment variable "
                f"{settings.password_env} is not set"
            )
    client = paramiko.SSHClient()
    if settings.insecure_ignore_host_key:
        client.set_missing_host_key_policy(_LoggedAcceptPolicy(settings))
    else:
        _load_known_hosts(client, settings)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    explicit = settings.key_file is not None or password is not None
    try:
        client.connect(
            settings.host,
            port=settings.port,
            username=settings.user,
            password=password,
            key_filename=settings.key_file,
            timeout=settings.timeout,
            banner_timeout=settings.timeout,
            auth_timeout=settings.timeout,
            # With an explicit key or password, stray agent keys must not be tried (or locked out).
            allow_agent=not explicit,
            look_for_keys=not explicit,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise _Unrecoverable(
            f"ssh {settings.where}: host key ({exc.key.get_name()} {exc.key.fingerprint}) does not match "
            f"{known_hosts_name(settings)}: the board was reinstalled or someone is in between; "
            "check it, then update the known_hosts entry"
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        how = f"key {settings.key_file}" if settings.key_file else ""
        if password is not None:
            how = f"{how} and " if how else ""
            how += f"password from ${settings.password_env}"
        raise _Unrecoverable(f"ssh {settings.where}: authentication failed ({how or 'agent/default keys'})") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise _Unrecoverable(
                f"ssh {settings.where}: unknown host key, refused: it is not in {known_hosts_name(settings)}; "
                f"after checking its fingerprint add it with `ssh-keyscan -p {settings.port} {settings.host} >> "
                f"{settings.known_hosts or '~/.ssh/known_hosts'}`, or set {settings.section}.known_hosts "
                f"(explicit opt-out: {settings.section}.insecure_ignore_host_key = true)"
            ) from None
        raise TargetError(f"ssh {settings.where}: {exc}") from None
    except (OSError, EOFError) as exc:
        client.close()
        raise TargetError(f"ssh {settings.where}: cannot connect: {exc}") from None
    return client


def connect_until(settings: SshSettings, deadline: float) -> paramiko.SSHClient:
    """Retry :func:`connect` until the monotonic ``deadline``: a booting board's sshd comes up late."""
    while True:
        try:
            return connect(settings)
        except _Unrecoverable:
            raise
        except TargetError as exc:
            if time.monotonic() + RETRY_INTERVAL >= deadline:
                raise TargetError(f"{exc} (gave up retrying)") from None
            time.sleep(RETRY_INTERVAL)


def _load_known_hosts(client: paramiko.SSHClient, settings: SshSettings) -> None:
    if settings.known_hosts is None:
        client.load_system_host_keys()
        return
    try:
        client.load_host_keys(settings.known_hosts)
    except OSError as exc:
        raise _Unrecoverable(
            f"{settings.source}: {settings.section}.known_hosts: cannot read {settings.known_hosts}: {exc.strerror}"
        ) from None


@dataclass(frozen=True)
class CommandResult:
    """What a remote command did."""

    status: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Standard output then standard error: what ``expect`` is searched in."""
        return self.stdout + self.stderr


def run_command(client: paramiko.SSHClient, command: str, timeout: float) -> CommandResult:
    """Run ``command``; :class:`TimeoutError` when it is still running after ``timeout`` s in all.

    The deadline is for the whole command: paramiko's own timeout is per read, so a command that
    prints a line every few seconds would never time out.
    """
    deadline = time.monotonic() + timeout
    try:
        _stdin, stdout, _stderr = client.exec_command(command)
        channel = stdout.channel
        out, err = bytearray(), bytearray()
        while not (channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready()):
            if channel.recv_ready():
                out += channel.recv(65536)
            elif channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            elif time.monotonic() >= deadline:
                channel.close()
                raise TimeoutError(f"`{command}` still running after {timeout:g} s")
            else:
                time.sleep(0.02)
        status = channel.recv_exit_status()
    except paramiko.SSHException as exc:
        raise TargetError(f"ssh `{command}` failed: {exc}") from None
    return CommandResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def append_log(path: Path, text: str) -> None:
    """Append ``text`` to the run's ``ssh.log``."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
