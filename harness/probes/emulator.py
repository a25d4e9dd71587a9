"""The ``emulator`` target's autopsy: the emulator process answers on its control socket.

The emulator owns its harts, so it reports them exactly: registers between two scheduler
rounds, instructions retired and traps taken as counted (see :mod:`harness.emulator.control`).
"""

from __future__ import annotations

import json
import socket
from typing import Any

from harness.autopsy.model import HartMissing, HartState, Privilege, TrapCsrs
from harness.probes.backend import AutopsyBackend, AutopsyUnavailable, Probe, Request
from harness.targets.emulator import EmulatorTarget

# Longest answer line read: five harts are about 2 KB, a 4 KiB memory read 8 KB of hex.
MAX_ANSWER = 1 << 16


class EmulatorProbe:
    """One connection to the emulator's control socket; every call honours the request's deadline."""

    def __init__(self, sock: socket.socket, request: Request) -> None:
        self._sock = sock
        self._request = request
        self._reader = sock.makefile("rb")

    def _ask(self, question: dict[str, Any]) -> dict[str, Any]:
        if self._request.expired():
            raise AutopsyUnavailable("the emulator's control socket did not answer in time")
        self._sock.settimeout(self._request.remaining())
        try:
            self._sock.sendall(json.dumps(question).encode() + b"\n")
            line = self._reader.readline(MAX_ANSWER)
        except TimeoutError:
            raise AutopsyUnavailable("the emulator's control socket did not answer in time") from None
        except OSError as exc:
            raise AutopsyUnavailable(f"the emulator's control socket failed: {exc}") from None
        if not line:
            raise AutopsyUnavailable("the emulator closed its control socket (did it exit?)")
        try:
            answer = json.loads(line)
        except ValueError:
            raise AutopsyUnavailable("the emulator's control socket answered something that is not JSON") from None
        if not isinstance(answer, dict):
            raise AutopsyUnavailable("the emulator's control socket answered something that is not an object")
        if "error" in answer:
            raise AutopsyUnavailable(f"the emulator: {answer['error']}")
        return answer

    def read_harts(self) -> tuple[HartState | HartMissing, ...]:
        """Every hart, read between two rounds of the emulator's scheduler."""
        harts = self._ask({"op": "harts"}).get("harts")
        if not isinstance(harts, list):
            raise AutopsyUnavailable("the emulator's answer has no harts")
        return tuple(_hart(index, item) for index, item in enumerate(harts))

    def read_memory(self, hart: int, address: int, size: int) -> bytes | None:
        """Memory through ``hart``'s current translation; ``None`` where nothing readable is mapped."""
        data = self._ask({"op": "read", "hart": hart, "address": address, "size": size}).get("data")
        return bytes.fromhex(data) if isinstance(data, str) else None

    def close(self) -> None:
        """Close the connection (the emulator keeps running until power-off)."""
        self._reader.close()
        self._sock.close()


def _hart(index: int, item: object) -> HartState | HartMissing:
    """A hart of the answer; one whose fields are not all there is missing, with the reason."""
    if not isinstance(item, dict):
        return HartMissing(index, "the emulator's answer for this hart is not an object")
    try:
        s_trap = None
        if "scause" in item:
            s_trap = TrapCsrs(int(item["scause"]), int(item["sepc"]), int(item["stval"]))
        return HartState(
            hart=int(item["hart"]),
            mode=Privilege.from_number(int(item["mode"])),
            pc=int(item["pc"]),
            ra=int(item["ra"]),
            sp=int(item["sp"]),
            fp=int(item["fp"]),
            wfi=bool(item["wfi"]),
            mstatus=int(item["mstatus"]),
            mip=int(item["mip"]),
            mie=int(item["mie"]),
            satp=int(item["satp"]),
            m_trap=TrapCsrs(int(item["mcause"]), int(item["mepc"]), int(item["mtval"])),
            s_trap=s_trap,
            instret=int(item["instret"]),
            traps=int(item["traps"]),
        )
    except (KeyError, TypeError, ValueError):
        return HartMissing(index, "the emulator's answer for this hart is incomplete")


def open_probe(request: Request) -> Probe:
    """Connect to the running emulator's control socket."""
    target = request.target
    if not isinstance(target, EmulatorTarget) or target.control_path is None:
        raise AutopsyUnavailable("the emulator was started without a control socket")
    if not target.console().alive():
        raise AutopsyUnavailable(f"the emulator is not running ({target.console().exit_description()})")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(request.remaining())
    try:
        sock.connect(str(target.control_path))
    except OSError as exc:
        sock.close()
        if not target.console().alive():
            # It died while we were connecting: that is the reason, not the socket.
            raise AutopsyUnavailable(f"the emulator is not running ({target.console().exit_description()})") from None
        if isinstance(exc, FileNotFoundError):
            raise AutopsyUnavailable("the emulator has not opened its control socket yet (still starting?)") from None
        raise AutopsyUnavailable(f"cannot reach the emulator's control socket: {exc.strerror or exc}") from None
    return EmulatorProbe(sock, request)


BACKEND = AutopsyBackend(name="emulator", open=open_probe)
