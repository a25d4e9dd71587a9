"""The virtual lab: QEMU plays the board on a pseudo-terminal, with a switch, ser2net and sshd.

Each piece stands in for real lab hardware, reached the way the harness reaches the real thing:

* :class:`VirtualBoard` is QEMU with Debian's OpenSBI + U-Boot, its UART on a pty. A stable
  symlink (``ttyLAB0``) points at the current pty, like ``/dev/serial/by-id/...``; it is
  removed while the board is off, so every power cycle exercises "the port vanished".
* :class:`EmulatorBoard` is the in-repo emulator as an Unmatched (five harts) with its console on
  a pty and its JTAG on a remote_bitbang port: OpenOCD reaches it as it reaches the real board.
* :class:`PowerSwitchServer` is a smart plug on loopback HTTP (Tasmota-style ``/cm?cmnd=``).
* :class:`Ser2net` exports the pty as RFC2217, :class:`Sshd` is a throw-away OpenSSH server.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from harness.model.sdcard import spl_image as sdcard_spl

QEMU = "qemu-system-riscv64"
OPENSBI = Path("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin")
UBOOT = Path("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin")
# QEMU starts paused and runs once the console is attached: a real board's UART is wired
# before it is powered, while a pty drops whatever is written before anyone opens it.
ATTACH_TIMEOUT = 10.0
ATTACH_SETTLE = 0.3
# QEMU 7.2's pty (Debian 12) discards every byte the guest writes while it believes nobody has
# the slave open, and looks again only once a second: each time ser2net closed and reopened the
# device (a client reconnecting), up to a second of the boot could vanish mid-line (a fresh-clone
# CI once lost half of U-Boot's banner that way). The board holds the slave itself for as long
# as QEMU runs, as a UART's wire stays connected, and lets QEMU run only after its once-a-second
# look has seen it held. (With nobody reading, the guest's output then waits in the pty's buffer,
# and once that is full its UART stalls, rather than being thrown away.)
QEMU_PTY_LOOK = 1.1


def missing_tools(*tools: str) -> list[str]:
    """The programs or files in ``tools`` that this machine lacks."""
    return [tool for tool in tools if shutil.which(tool) is None and not Path(tool).exists()]


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def garbage_jtag() -> Iterator[int]:
    """A remote_bitbang peer on loopback whose TDO is noise (a JTAG chain answering garbage);
    yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def noise() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.2)
                while not stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    answers = bytes(random.choice(b"01") for byte in data if byte == ord("R"))
                    if answers:
                        conn.sendall(answers)

    thread = threading.Thread(target=noise, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        server.close()


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something listens on loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _opened_elsewhere(device: str, exclude_pid: int, own_fd: int | None = None) -> bool:
    """Whether a process other than ``exclude_pid`` has ``device`` open, not counting this
    process's descriptor ``own_fd`` (the board's own hold on it)."""
    own = Path(f"/proc/{os.getpid()}/fd/{own_fd}") if own_fd is not None else None
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        if fd_dir.parent.name == str(exclude_pid):
            continue
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if fd != own and os.readlink(fd) == device:
                        return True
    return False


def _wait_attached(process: subprocess.Popen[str], pty: str, own_fd: int | None = None) -> None:
    """Wait until someone other than ``process`` (and the board's own ``own_fd``) holds ``pty``
    open (or ``process`` ends, or ATTACH_TIMEOUT passes)."""
    # Attached means held open for a moment: ser2net opens the device for every client that
    # connects, also one whose RFC2217 negotiation then fails, and a qsoe image prints its
    # whole boot within 40 ms of running.
    deadline = time.monotonic() + ATTACH_TIMEOUT
    held_since: float | None = None
    while time.monotonic() < deadline and process.poll() is None:
        if not _opened_elsewhere(pty, process.pid, own_fd):
            held_since = None
        elif held_since is None:
            held_since = time.monotonic()
        elif time.monotonic() - held_since >= ATTACH_SETTLE:
            return
        time.sleep(0.01)


class VirtualBoard:
    """QEMU as a board; ``port`` is the stable symlink to its console.

    With ``boots_from``, the board boots whatever kernel is in that file at power-on (no
    firmware: a qsoe-sim image), as a board that loads its kernel from a TFTP folder does. With
    ``sdcard``, it is a HiFive board booting from that card: QEMU's sifive_u (the FU540) with
    MSEL 1011, the card's SPL partition as the mask ROM loads it, the card as its SD drive.
    """

    def __init__(self, folder: Path, *, boots_from: Path | None = None, sdcard: Path | None = None) -> None:
        self.port = folder / "ttyLAB0"
        self.boots_from = boots_from
        self.sdcard = sdcard
        self._sockets = Path(tempfile.mkdtemp(prefix="hb-lab-"))
        self._process: subprocess.Popen[str] | None = None
        self._idle_master: int | None = None
        # The board's own hold on the running QEMU's pty slave (see QEMU_PTY_LOOK).
        self._wire: int | None = None
        self.pty: str | None = None
        self.boots = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """QEMU is alive."""
        return self._process is not None and self._process.poll() is None

    def plug_in(self) -> None:
        """The console cable is in and the board is off: a silent port exists (a real FTDI does)."""
        with self._lock:
            master, slave = os.openpty()
            self._idle_master = master
            self._point_at(os.ttyname(slave))
            os.close(slave)

    def _point_at(self, device: str) -> None:
        partial = self.port.with_name(self.port.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        partial.symlink_to(device)
        partial.replace(self.port)

    def _unplug_idle(self) -> None:
        master, self._idle_master = self._idle_master, None
        if master is not None:
            os.close(master)

    def power_on(self) -> None:
        """Start QEMU paused on a new pty, point the symlink at it, run once it is attached."""
        with self._lock:
            if self.running:
                return
            # A QEMU that ended by itself (a guest poweroff, -no-reboot) still has its hold.
            self._kill()
            self._unplug_idle()
            monitor = self._sockets / f"monitor-{self.boots}.sock"
            machine = "virt"
            if self.sdcard is not None:
                machine = "sifive_u,msel=11"
                spl = sdcard_spl(self.sdcard, self._sockets / "spl.bin")
                firmware = ["-m", "8G", "-smp", "5", "-bios", str(spl), "-no-reboot"]
                firmware += ["-drive", f"file={self.sdcard},if=sd,format=raw,snapshot=on"]
            elif self.boots_from is None:
                firmware = ["-m", "256M", "-smp", "1", "-bios", str(OPENSBI), "-kernel", str(UBOOT)]
            else:
                firmware = ["-m", "128M", "-smp", "2", "-bios", "none", "-kernel", str(self.boots_from)]
                firmware += ["-append", "seed=1"]
            process = subprocess.Popen(
                [
                    QEMU,
                    *("-M", machine),
                    *firmware,
                    *("-serial", "pty", "-display", "none", "-S"),
                    *("-monitor", f"unix:{monitor},server=on,wait=off"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            assert process.stdout is not None
            line = process.stdout.readline()
            found = re.search(r"(/dev/pts/\d+)", line)
            if found is None:
                process.kill()
                raise RuntimeError(f"QEMU did not report its pty: {line!r}")
            self._process, self.pty = process, found.group(1)
            self._wire = os.open(self.pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            seen_by = time.monotonic() + QEMU_PTY_LOOK
            self.boots += 1
            self._point_at(self.pty)
            threading.Thread(
                target=self._run_when_attached, args=(process, self.pty, self._wire, monitor, seen_by), daemon=True
            ).start()

    def _run_when_attached(
        self, process: subprocess.Popen[str], pty: str, wire: int, monitor: Path, seen_by: float
    ) -> None:
        _wait_attached(process, pty, wire)
        time.sleep(max(0.0, seen_by - time.monotonic()))
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as control:
            control.connect(str(monitor))
            control.sendall(b"cont\n")
            time.sleep(0.1)

    def power_off(self) -> None:
        """Kill QEMU and remove the symlink: the console vanishes until the next power-on."""
        with self._lock:
            pty = self.pty if self.running else None
            self._kill()
            self._unplug_idle()
            with contextlib.suppress(FileNotFoundError):
                self.port.unlink()
            if pty is not None:
                self._wait_released(pty)

    @staticmethod
    def _wait_released(pty: str, timeout: float = 3.0) -> None:
        """Wait until nobody holds the dead board's pty: a real console is gone once it is off.

        ser2net notices the dead device a moment later; a client connecting meanwhile would be
        handed the dead device (and never see the next boot).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _opened_elsewhere(pty, -1):
            time.sleep(0.02)

    def pull_console(self) -> None:
        """The console cable is pulled mid-boot: QEMU, its pty and the device node go.

        The symlink goes too: a dangling one could soon point at a pty number reused by another
        process on this machine, a device that opens fine but is not the board.
        """
        with self._lock:
            self._kill()
            with contextlib.suppress(FileNotFoundError):
                self.port.unlink()

    def _kill(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            os.close(wire)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def close(self) -> None:
        """Power off for good and remove the monitor sockets."""
        self.power_off()
        shutil.rmtree(self._sockets, ignore_errors=True)


class EmulatorBoard(VirtualBoard):
    """The emulator (by default ``-M unmatched``, 5 harts) running ``kernel`` (bare metal, or
    after ``bios``): its console on a pty behind ``port``, its JTAG on loopback ``jtag_port``
    (the same port at every power-on)."""

    def __init__(
        self,
        folder: Path,
        kernel: Path,
        *,
        machine: str = "unmatched",
        smp: int = 5,
        bios: str = "none",
        extra: tuple[str, ...] = (),
    ) -> None:
        super().__init__(folder)
        self.kernel = kernel
        self.machine = machine
        self.smp = smp
        self.bios = bios
        self.extra = extra
        self.jtag_port = free_port()

    def power_on(self) -> None:
        """Start the emulator, stopped as soon as it announced its pty, and let it run once the
        console is attached, as QEMU's board does: the harness reopens the port after power-on
        and flushes what was buffered, so on a loaded host a boot printed before that was lost
        (the emulator has no start-paused option, so the board stops its process instead)."""
        with self._lock:
            if self.running:
                return
            self._unplug_idle()
            process = subprocess.Popen(
                [sys.executable, "-m", "harness.emulator", "-M", self.machine, "-smp", str(self.smp),
                 "-bios", self.bios, "-kernel", str(self.kernel), *self.extra, "-serial", "pty",
                 "-jtag", f"tcp:{self.jtag_port}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                start_new_session=True, cwd=Path(__file__).resolve().parents[2],
            )  # fmt: skip
            assert process.stderr is not None
            pty = re.search(r"(/dev/pts/\d+)", process.stderr.readline())
            jtag = process.stderr.readline()
            if pty is None or "JTAG remote_bitbang" not in jtag:
                process.kill()
                raise RuntimeError(f"the emulator did not announce its pty and JTAG port: {jtag!r}")
            # The guest writes its console once per scheduler round: stopped here, right after
            # the announcement, it has printed nothing yet.
            os.kill(process.pid, signal.SIGSTOP)
            self._process, self.pty = process, pty.group(1)
            self.boots += 1
            self._point_at(self.pty)
            threading.Thread(target=self._continue_when_attached, args=(process, self.pty), daemon=True).start()

    @staticmethod
    def _continue_when_attached(process: subprocess.Popen[str], pty: str) -> None:
        _wait_attached(process, pty)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)


@dataclass
class PowerSwitchServer:
    """A plug on loopback: Tasmota's ``/cm?cmnd=Power%20On`` (basic auth) and Shelly Gen 1's ``/relay/0``."""

    board: VirtualBoard
    user: str = "admin"
    password: str = ""
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        lab = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                """Shelly's Gen 1 relay API (labgrid's ``shelly_gen1`` model): ``turn=on|off``."""
                lab.requests.append(f"POST {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                turn = parse_qs(self.rfile.read(length).decode()).get("turn", [""])[0]
                if not self.path.startswith("/relay/0") or turn not in ("on", "off"):
                    self._reply(400, '{"error":"unknown relay or turn"}')
                    return
                lab.board.power_on() if turn == "on" else lab.board.power_off()
                self._relay_state()

            def _relay_state(self) -> None:
                self._reply(200, f'{{"ison":{"true" if lab.board.running else "false"}}}')

            def do_GET(self) -> None:
                lab.requests.append(self.path)
                if self.path.startswith("/relay/0"):
                    self._relay_state()
                    return
                expected = "Basic " + base64.b64encode(f"{lab.user}:{lab.password}".encode()).decode()
                if lab.password and self.headers.get("Authorization") != expected:
                    self._reply(401, '{"WARNING":"Need user=<username>&password=<password>"}')
                    return
                command = parse_qs(urlsplit(self.path).query).get("cmnd", [""])[0].lower()
                if command == "power on":
                    lab.board.power_on()
                elif command == "power off":
                    lab.board.power_off()
                elif command != "power":
                    self._reply(400, '{"Command":"Unknown"}')
                    return
                self._reply(200, f'{{"POWER":"{"ON" if lab.board.running else "OFF"}"}}')

            def _reply(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads ``requests`` instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, command: str) -> str:
        """The URL of a Tasmota command, e.g. ``Power On``."""
        return f"http://127.0.0.1:{self.port}/cm?cmnd={command.replace(' ', '%20')}"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class Ser2net:
    """ser2net 4 exporting ``device`` on a loopback port, as RFC2217 or (``raw``) plain TCP."""

    def __init__(self, device: Path, folder: Path, *, raw: bool = False) -> None:
        self.port = free_port()
        self.raw = raw
        config = folder / "ser2net.yaml"
        accepter = "tcp" if raw else "telnet(rfc2217),tcp"
        config.write_text(
            "%YAML 1.1\n---\n"
            "connection: &lab\n"
            f"  accepter: {accepter},127.0.0.1,{self.port}\n"
            f"  connector: serialdev,{device},115200n81,local\n"
            "  options:\n"
            "    kickolduser: true\n",
            encoding="utf-8",
        )
        self.log = folder / "ser2net.log"
        with self.log.open("w") as log:
            # -u: no UUCP lock files in /var/lock; the harness has its own board lock.
            self._process = subprocess.Popen(
                ["ser2net", "-d", "-u", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        """The pyserial URL. A pty cannot set modem lines, so ser2net never acknowledges them."""
        if self.raw:
            return f"socket://127.0.0.1:{self.port}"
        return f"rfc2217://127.0.0.1:{self.port}?ign_set_control"

    def close(self) -> None:
        """Stop ser2net (it ignores SIGTERM in debug mode, hence SIGKILL after a grace)."""
        self._process.terminate()
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class Sshd:
    """A throw-away OpenSSH server on loopback with its own host key and one authorised user key."""

    def __init__(self, folder: Path, *, passphrase: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.host_key = folder / "ssh_host_ed25519_key"
        self.user_key = folder / "id_ed25519"
        self.passphrase = passphrase
        for key, secret in ((self.host_key, ""), (self.user_key, passphrase)):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", secret, "-C", "hartbeat-lab", "-f", str(key)], check=True
            )
        authorized = folder / "authorized_keys"
        authorized.write_text(self.user_key.with_suffix(".pub").read_text(), encoding="utf-8")
        self.known_hosts = folder / "known_hosts"
        host_public = self.host_key.with_name(self.host_key.name + ".pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_public[0]} {host_public[1]}\n", encoding="utf-8")
        config = folder / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile none\nStrictModes no\nUsePAM no\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "Subsystem sftp internal-sftp\nLogLevel VERBOSE\n",
            encoding="utf-8",
        )
        # sshd refuses to start without its privilege-separation folder.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = folder / "sshd.log"
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port)

    @property
    def user(self) -> str:
        """The user the lab logs in as: whoever runs the tests (root in CI)."""
        return getpass.getuser()

    def close(self) -> None:
        """Stop sshd."""
        self._process.terminate()
        self._process.wait(timeout=5)
