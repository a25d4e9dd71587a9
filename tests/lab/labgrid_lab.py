"""A labgrid lab on loopback: a real coordinator, exporters and places around virtual boards.

Each :class:`LabBoard` is a virtual board (QEMU on a pty) with its own plug and ser2net; an
exporter publishes the ser2net port as a ``NetworkSerialPort`` and the plug as a
``NetworkPowerPort`` of labgrid's ``shelly_gen1`` model, and the coordinator groups them into a
place, exactly as `labgrid-client create` / `add-match` would in a lab.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .virtual import PowerSwitchServer, Ser2net, VirtualBoard, free_port, wait_for_port

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A labgrid program from this environment (the ``labgrid`` extra installs them beside python)."""
    return str(BIN / name)


class LabBoard:
    """One board of the lab: QEMU on a pty, its plug, and ser2net (RFC2217, or raw TCP).

    A board that ``boots_from`` a TFTP file has no console while it is off (its USB serial
    adapter is powered by the board), so ser2net refuses connections until power-on.
    """

    def __init__(self, folder: Path, *, raw: bool = False, boots_from: Path | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.board = VirtualBoard(folder, boots_from=boots_from)
        if boots_from is None:
            self.board.plug_in()
        self.switch = PowerSwitchServer(self.board)
        self.ser2net = Ser2net(self.board.port, folder, raw=raw)

    def resources(self) -> dict[str, dict[str, object]]:
        """The exporter's resources for this board."""
        return {
            "NetworkSerialPort": {
                "host": "127.0.0.1",
                "port": self.ser2net.port,
                "speed": 115200,
                "protocol": "raw" if self.ser2net.raw else "rfc2217",
            },
            "NetworkPowerPort": {"model": "shelly_gen1", "host": f"http://127.0.0.1:{self.switch.port}", "index": 0},
        }

    def close(self) -> None:
        """Stop ser2net, the plug and the board."""
        self.ser2net.close()
        self.switch.close()
        self.board.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LabgridCoordinator:
    """``labgrid-coordinator`` on a loopback port; its places file lives in ``folder``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.address = f"127.0.0.1:{free_port()}"
        self.log = folder / "coordinator.log"
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [tool("labgrid-coordinator"), "--listen", self.address], cwd=folder, stdout=log, stderr=log
            )
        wait_for_port(int(self.address.rsplit(":", 1)[1]), timeout=30)
        self._exporters: list[subprocess.Popen[bytes]] = []

    def client(self, *args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``labgrid-client`` against this coordinator, as ``user`` if given (``LG_USERNAME``)."""
        env = {**os.environ, "LG_COORDINATOR": self.address}
        if user:
            env["LG_USERNAME"] = user
        result = subprocess.run([tool("labgrid-client"), *args], env=env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"labgrid-client {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def export(self, name: str, groups: dict[str, dict[str, dict[str, object]]]) -> None:
        """Start an exporter called ``name`` with ``groups`` and wait until its resources are known."""
        config = self.folder / f"exporter-{name}.yaml"
        config.write_text(_yaml(groups), encoding="utf-8")
        log = (self.folder / f"exporter-{name}.log").open("wb")
        self._exporters.append(
            subprocess.Popen(
                [tool("labgrid-exporter"), "-c", self.address, "-n", name, "--hostname", "127.0.0.1", str(config)],
                stdout=log,
                stderr=log,
            )
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = self.client("resources", check=False).stdout
            if all(f"{name}/{group}/" in listed for group in groups):
                return
            time.sleep(0.3)
        raise TimeoutError(f"exporter {name} did not publish {', '.join(groups)} within 60 s")

    def add_place(self, place: str, match: str, tags: dict[str, str] | None = None) -> None:
        """Create ``place`` matching resources ``match`` (``exporter/group/*``) with ``tags``."""
        self.client("-p", place, "create")
        self.client("-p", place, "add-match", match)
        if tags:
            self.client("-p", place, "set-tags", *(f"{k}={v}" for k, v in tags.items()))

    def holder(self, place: str) -> str | None:
        """Who holds ``place`` now (``host/user``), from ``labgrid-client show``."""
        for line in self.client("-p", place, "show").stdout.splitlines():
            if line.strip().startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                return None if value in ("", "None") else value
        return None

    def close(self) -> None:
        """Stop the exporters, then the coordinator."""
        for exporter in self._exporters:
            _stop(exporter)
        _stop(self._process)


def _yaml(groups: dict[str, dict[str, dict[str, object]]]) -> str:
    """The exporter's YAML for flat groups of resources (no YAML library needed for this shape)."""
    lines = []
    for group, resources in groups.items():
        lines.append(f"{group}:")
        for cls, params in resources.items():
            lines.append(f"  {cls}:")
            lines.extend(
                f"    {key}: {value!r}" if isinstance(value, str) else f"    {key}: {value}"
                for key, value in params.items()
            )
    return "\n".join(lines) + "\n"
