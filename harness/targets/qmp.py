"""A minimal QMP client: enough to pause, resume, reset and quit QEMU cleanly."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from harness.errors import TargetError
from harness.targets.sockets import connect_when_ready


class QMP:
    """A QMP connection over a UNIX socket that QEMU creates (``-qmp unix:PATH,server=on,wait=off``)."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""

    def connect(self) -> None:
        """Connect (waiting for QEMU to create the socket) and negotiate capabilities."""
        try:
            sock = connect_when_ready(self.path, self.timeout, self.timeout)
        except OSError as exc:
            raise TargetError(f"QMP socket {self.path} did not answer: {exc}") from None
        self._sock = sock
        self._receive()  # the greeting
        self.command("qmp_capabilities")

    def _receive(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise TargetError("QMP connection closed by QEMU")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def command(self, name: str, **arguments: Any) -> Any:
        """Run a QMP command and return its ``return`` value; events on the way are skipped."""
        if self._sock is None:
            raise TargetError("QMP is not connected")
        message: dict[str, Any] = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
            while True:
                reply = self._receive()
                if "return" in reply:
                    return reply["return"]
                if "error" in reply:
                    raise TargetError(f"QMP {name}: {reply['error'].get('desc', reply['error'])}")
        except (OSError, ValueError) as exc:
            raise TargetError(f"QMP {name} failed: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
