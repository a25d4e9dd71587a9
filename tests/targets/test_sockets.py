"""Connecting to a socket a fresh process has not made yet (harness/targets/sockets.py)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from harness.targets.sockets import connect_when_ready


def test_a_unix_socket_that_appears_later_is_connected(tmp_path: Path) -> None:
    path = tmp_path / "qmp.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def listen_late() -> None:
        time.sleep(0.2)
        server.bind(str(path))
        server.listen(1)

    thread = threading.Thread(target=listen_late)
    thread.start()
    try:
        client = connect_when_ready(path, timeout=1.5, wait=30.0)
        peer, _ = server.accept()
        client.sendall(b"ok")
        assert peer.recv(2) == b"ok" and client.gettimeout() == 1.5
        client.close()
        peer.close()
    finally:
        thread.join()
        server.close()


def test_a_tcp_port_is_connected(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = connect_when_ready(server.getsockname(), timeout=1.0, wait=5.0)
        client.close()


def test_nobody_answering_is_the_last_error_after_the_wait(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(FileNotFoundError):
        connect_when_ready(tmp_path / "never.sock", timeout=1.0, wait=0.3)
    assert 0.3 <= time.monotonic() - start < 20
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        connect_when_ready(("127.0.0.1", port), timeout=1.0, wait=0.1)
