"""Connecting to a socket that a freshly started process (QEMU) has not created yet."""

from __future__ import annotations

import socket
import time
from pathlib import Path

# How often a socket that is not there yet is tried again.
RETRY = 0.02


def connect_when_ready(address: Path | tuple[str, int], timeout: float, wait: float) -> socket.socket:
    """A connected stream socket to a UNIX path or ``(host, port)``, tried until ``wait`` seconds
    pass; the last ``OSError`` when it never answers. ``timeout`` is the socket's own timeout."""
    deadline = time.monotonic() + wait
    while True:
        family = socket.AF_UNIX if isinstance(address, Path) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(address) if isinstance(address, Path) else address)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(RETRY)
