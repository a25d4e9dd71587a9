"""``[deploy]``: the run's image files copied to the board (its Linux or a TFTP folder) by SFTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import paramiko

from harness.errors import TargetError
from harness.model.board import Board
from harness.ssh.client import append_log, connect
from harness.ssh.settings import DeploySettings, SshSettings


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
                append_log(
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
