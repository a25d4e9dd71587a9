"""SSH with paramiko: connect with verified host keys, deploy images by SFTP, run check steps.

Three board sections use it: ``[ssh]`` (a plan step ``ssh = "command"`` runs on the booted
board), ``[deploy]`` (the run's image files are copied to the board's Linux or a TFTP folder
before the power cycle) and ``[power] backend = "ssh"``. Host keys are checked against
``known_hosts`` and an unknown key is refused; ``insecure_ignore_host_key = true`` is the
explicit, logged opt-out. Passwords come from an environment variable named in the profile and
never reach a message, a log or a report.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import paramiko

from harness.board import Board
from harness.config import Section
from harness.errors import TargetError
from harness.plan import Milestone
from harness.verdict import Kind, Verdict, last_meaningful

if TYPE_CHECKING:
    # Only for annotations: the console module imports the targets package, which imports this one.
    from harness.console import Console

log = logging.getLogger("hartbeat.ssh")

DEFAULT_CONNECT_TIMEOUT = 10.0
RETRY_INTERVAL = 1.0
OUTPUT_IN_REASON = 200
StepHook = Callable[[Milestone, "Console"], Verdict | None]


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
    port = section.int("port", 22)
    if port is None or not 0 < port < 65536:
        raise section.error("port", f"expected a TCP port 1-65535, got {port!r}")
    key_file = section.str("key_file")
    known_hosts = section.str("known_hosts")
    return SshSettings(
        host=board.expand(section.str("host", required=True) or "", section.key("host")),
        section=section.prefix,
        source=str(section.source),
        port=port,
        user=section.str("user", "root") or "root",
        key_file=str(Path(board.expand(key_file, section.key("key_file"))).expanduser()) if key_file else None,
        password_env=section.str("password_env"),
        known_hosts=str(Path(board.expand(known_hosts, section.key("known_hosts"))).expanduser())
        if known_hosts
        else None,
        insecure_ignore_host_key=section.bool("insecure_ignore_host_key"),
        timeout=section.duration("timeout", DEFAULT_CONNECT_TIMEOUT) or DEFAULT_CONNECT_TIMEOUT,
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
        dest=section.str("dest", required=True) or "",
        slots=tuple(section.str_list("slots")),
    )
    unknown = [slot for slot in settings.slots if slot not in board.images]
    if unknown:
        known = ", ".join(sorted(board.images)) or "none"
        raise section.error("slots", f"no image slot {unknown[0]!r} on this board; slots: {known}")
    section.reject_unknown()
    return settings


# -- connecting ---------------------------------------------------------------------------------


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
            f"{_known_hosts_name(settings)}: the board was reinstalled or someone is in between; "
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
                f"ssh {settings.where}: unknown host key, refused: it is not in {_known_hosts_name(settings)}; "
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


def _known_hosts_name(settings: SshSettings) -> str:
    return settings.known_hosts or "~/.ssh/known_hosts"


# -- commands -----------------------------------------------------------------------------------


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


def step_hook(settings: SshSettings, log_path: Path, last_reached: Callable[[], str | None]) -> StepHook:
    """The runner's ``ssh`` step: run the command, check ``status`` (default 0) and ``expect``.

    The exchange is appended to ``log_path`` (``ssh.log`` in the run folder).
    """

    def run_step(milestone: Milestone, console: Console) -> Verdict | None:
        assert milestone.ssh is not None
        deadline = time.monotonic() + milestone.within
        client = connect_until(settings, deadline)
        try:
            remaining = max(1.0, deadline - time.monotonic())
            try:
                result = run_command(client, milestone.ssh, remaining)
            except TimeoutError as exc:
                _append(log_path, f"[{console.now():12.6f}] {settings.where} $ {milestone.ssh}\n  {exc}\n")
                return _step_verdict(
                    Kind.STALL, f"ssh step `{milestone.name}`: {exc}", milestone, console, last_reached
                )
        finally:
            client.close()
        _append(log_path, _transcript(console.now(), settings, milestone.ssh, result))
        expected = 0 if milestone.status is None else milestone.status
        shown = " ".join(result.output.split())[:OUTPUT_IN_REASON] or "(no output)"
        if result.status != expected:
            return _step_verdict(
                Kind.FAIL,
                f"check `{milestone.name}` failed: `{milestone.ssh}` exited {result.status}, expected {expected}; "
                f"output: {shown}",
                milestone,
                console,
                last_reached,
                result,
            )
        if milestone.expect is not None and not milestone.expect.search(result.output):
            return _step_verdict(
                Kind.FAIL,
                f"check `{milestone.name}` failed: output of `{milestone.ssh}` does not match "
                f"/{milestone.expect.pattern}/; output: {shown}",
                milestone,
                console,
                last_reached,
                result,
            )
        return None

    return run_step


def _step_verdict(
    kind: Kind,
    reason: str,
    milestone: Milestone,
    console: Console,
    last_reached: Callable[[], str | None],
    result: CommandResult | None = None,
) -> Verdict:
    at = console.now()
    lines = [(at, line) for line in result.output.splitlines()][-20:] if result else console.last_lines(20)
    return Verdict(
        kind=kind,
        reason=reason,
        milestone=last_reached(),
        waiting_for=milestone.name,
        at=at,
        last_lines=tuple(lines),
        key_line=last_meaningful(lines),
    )


def _transcript(t: float, settings: SshSettings, command: str, result: CommandResult) -> str:
    parts = [f"[{t:12.6f}] {settings.where} $ {command}"]
    parts += [f"  | {line}" for line in result.stdout.splitlines()]
    parts += [f"  ! {line}" for line in result.stderr.splitlines()]
    parts.append(f"  exit status {result.status}")
    return "\n".join(parts) + "\n"


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


# -- deploy -------------------------------------------------------------------------------------


def deploy(settings: DeploySettings, board: Board, variables: Mapping[str, str], log_path: Path) -> None:
    """Copy the image files to ``dest`` by SFTP; each lands under a temporary name, then is renamed.

    The rename keeps a TFTP server from ever handing out half a kernel.
    """
    dest = board.expand(settings.dest, "deploy.dest", {**variables, "board": board.name})
    files = board.image_files(variables, settings.slots)
    client = connect(settings.ssh)
    try:
        sftp = client.open_sftp()
        try:
            _makedirs(sftp, dest, settings.ssh)
            for slot, path in files.items():
                start = time.monotonic()
                final = str(PurePosixPath(dest) / path.name)
                partial = f"{final}.hartbeat-{uuid.uuid4().hex[:8]}"
                try:
                    sftp.put(str(path), partial)
                    sftp.posix_rename(partial, final)
                except (OSError, paramiko.SSHException) as exc:
                    raise TargetError(f"deploy to {settings.ssh.where}: {slot} {path} -> {final}: {exc}") from None
                _append(
                    log_path,
                    f"deploy {slot}: {path} -> {settings.ssh.where}:{final} "
                    f"({path.stat().st_size} bytes, {time.monotonic() - start:.2f} s)\n",
                )
        finally:
            sftp.close()
    finally:
        client.close()


def _makedirs(sftp: paramiko.SFTPClient, folder: str, settings: SshSettings) -> None:
    current = PurePosixPath("/") if folder.startswith("/") else PurePosixPath(".")
    for part in PurePosixPath(folder).parts:
        current = current / part
        try:
            sftp.stat(str(current))
        except FileNotFoundError:
            try:
                sftp.mkdir(str(current))
            except OSError as exc:
                raise TargetError(f"deploy to {settings.where}: cannot create {current}: {exc}") from None


# -- the runner's entry points -----------------------------------------------------------------


def board_step_hooks(board: Board, out_dir: Path, last_reached: Callable[[], str | None]) -> dict[str, StepHook]:
    """``{"ssh": hook}`` when the board has an ``[ssh]`` section, else nothing."""
    if "ssh" not in board.settings:
        return {}
    return {"ssh": step_hook(ssh_settings_from(board), out_dir / "ssh.log", last_reached)}


def deploy_for_board(board: Board, variables: Mapping[str, str], out_dir: Path) -> None:
    """Run the board's ``[deploy]`` before power-on; nothing without one."""
    if "deploy" not in board.settings:
        return
    deploy(deploy_settings_from(board), board, variables, out_dir / "ssh.log")


def describe(settings: SshSettings) -> dict[str, Any]:
    """The login for a report: where, as whom, how the host key is checked; never the secret."""
    return {
        "where": settings.where,
        "host_key": "NOT VERIFIED (insecure_ignore_host_key)"
        if settings.insecure_ignore_host_key
        else _known_hosts_name(settings),
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
