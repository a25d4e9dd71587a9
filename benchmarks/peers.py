"""hartbeat beside labgrid and pytest-embedded: the same workloads, one run, the same firmware.

    .venv-bench/bin/python benchmarks/peers.py [--tiny] [--json FILE]

Workloads (the scripted board is ``benchmarks/peer_kit/board.py``):

- firehose: a 20 MB trace with a kernel panic line in the middle. Every tool looks for an end
  marker and the standard fail patterns; each peer gets a time budget. Reports the bytes each
  read before its verdict (or its budget), MB/s, and whether it stopped on the panic line.
- wedge: an OpenSBI + U-Boot banner, then silence (the board stays alive). Seconds from the
  board's last byte to the failure, and what the failure message says.
- panic: the boot reaches a kernel panic; the board stays alive and prints a heartbeat each
  second. Seconds from the panic line to the failure.
- uboot: the uboot-smoke plan (OpenSBI and U-Boot banners, stop autoboot, `version`, `echo`,
  `poweroff`) on QEMU virt with Debian's OpenSBI + U-Boot; median wall time of 5 runs each.

How each tool is driven, as its users drive it: hartbeat runs a plan (``peer_kit/*.toml``) on a
``process`` board (the board's console on a pty); labgrid's ``ExternalConsoleDriver`` runs the
board (its console on pipes) and ``QEMUDriver`` + ``UBootDriver`` boot U-Boot, each with
``expect``; pytest-embedded's ``dut.expect`` in ``peer_kit/embedded_workloads.py``, its serial
service on the board's pty and its qemu service for U-Boot. The peers wait for the login prompt
with their default expect timeout (30 s each) unless ``--peer-timeout`` says otherwise; hartbeat's
plan has a 10 s silence limit. Times come from one clock (CLOCK_MONOTONIC) shared by the board
and the tools. Each measurement runs in its own process.

The peers come from the ``bench`` extra in their own venv (``make bench`` makes ``.venv-bench``);
a peer that is not installed, or cannot run a workload, has the reason in its table cell.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "benchmarks" / "peer_kit"
BOARD = KIT / "board.py"
PEERS = ("hartbeat", "labgrid", "pytest-embedded")
WORKLOADS = ("firehose", "wedge", "panic", "uboot")
MARKER = "FIREHOSE-END"
LOGIN = "login: "
FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin"
UBOOT = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
QEMU_ARGS = f"-machine virt -smp 2 -m 256M -bios {FW_JUMP} -kernel {UBOOT}"
# The board's last lines before it goes quiet (wedge) and the panic line: a failure message that
# contains them shows the evidence.
WEDGE_LAST = "DRAM:  16 GiB"
PANIC_LINE = "Kernel panic - not syncing"


@dataclass(frozen=True)
class Settings:
    """The sizes and limits of one run of the benchmark."""

    megabytes: int = 20
    budget: float = 30.0
    peer_timeout: float | None = None
    silence: float = 10.0
    runs: int = 5


TINY = Settings(megabytes=2, budget=3.0, peer_timeout=2.0, silence=1.5, runs=1)


# -- helpers shared by the workers -----------------------------------------------------------


def board_command(workload: str, stamps: Path, settings: Settings, pty: Path | None = None) -> list[str]:
    """The scripted board's command line for one workload."""
    command = [sys.executable, str(BOARD), workload, "--stamps", str(stamps), "--megabytes", str(settings.megabytes)]
    return [*command, "--pty", str(pty)] if pty else command


def read_stamps(path: Path, needed: str, wait: float = 10.0) -> dict[str, float]:
    """The board's stamps, once the one named ``needed`` is there."""
    deadline = time.monotonic() + wait
    while True:
        if path.exists():
            stamps: dict[str, float] = json.loads(path.read_text())
            if needed in stamps:
                return stamps
        if time.monotonic() > deadline:
            raise RuntimeError(f"the board wrote no {needed!r} stamp to {path}")
        time.sleep(0.05)


def fail_patterns() -> list[tuple[str, str]]:
    """hartbeat's standard fail patterns, given to the peers in the firehose too."""
    from harness.model.plan import STANDARD_FAILS

    return list(STANDARD_FAILS)


def message_facts(message: str, workload: str) -> dict[str, Any]:
    """What a failure message tells its reader: the step it stopped in, the board's last lines."""
    evidence = WEDGE_LAST if workload == "wedge" else PANIC_LINE
    flat = " ".join(message.split())  # pytest-embedded folds whitespace in what it shows
    return {
        "message": message[:600],
        # hartbeat's summary names the milestones ("after milestone `uboot` ... waiting for
        # `autoboot`"); pexpect's dump names only the pattern it searched for.
        "names_milestone": bool(re.search(r"milestone `[^`]+`", message)),
        "shows_pattern": "login" in message,
        "shows_last_line": " ".join(evidence.split()) in flat,
        "says_panic": workload == "panic" and bool(re.search(r"(?i)panic", message.split("\n", 1)[0])),
    }


def firehose_figures(consumed: int, seconds: float, found: str) -> dict[str, Any]:
    """Bytes, seconds and rate for a firehose reader."""
    return {
        "bytes": consumed,
        "seconds": seconds,
        "mb_per_s": consumed / 1e6 / seconds if seconds > 0 else 0.0,
        "found": found,
        "caught": found not in ("end", "timeout"),
    }


# -- hartbeat --------------------------------------------------------------------------------


def hartbeat_worker(workload: str, settings: Settings, folder: Path) -> dict[str, Any]:
    """One workload through ``hartbeat``'s runner, as ``hartbeat run PLAN --board BOARD`` runs it."""
    import dataclasses

    from harness.model.board import resolve
    from harness.model.plan import load_plan
    from harness.records.report import summary
    from harness.run.board_loader import load_board
    from harness.run.runner import Runner
    from harness.run.setup import prepare

    if workload == "uboot":
        plan = load_plan(resolve("uboot-smoke", "testplans"))
        board = load_board("qemu-virt")
        walls, verdicts = [], []
        for index in range(settings.runs):
            start = time.monotonic()
            result = Runner(prepare(plan, board), out_dir=folder / f"run{index}").run()
            walls.append(time.monotonic() - start)
            verdicts.append(result.verdict.kind.value)
        return {"walls": walls, "median": statistics.median(walls), "verdicts": verdicts}
    stamps = folder / "stamps.json"
    command = board_command(workload, stamps, settings)
    if workload == "firehose":
        return hartbeat_firehose(command, stamps, folder)
    (folder / "board.toml").write_text(f'name = "peer-board"\ntarget = "process"\ncommand = {json.dumps(command)}\n')
    plan = dataclasses.replace(load_plan(KIT / "boot.toml"), silence=settings.silence)
    result = Runner(prepare(plan, load_board(str(folder / "board.toml"))), out_dir=folder / "run").run()
    ended = time.monotonic()
    verdict = result.verdict
    key = "last" if workload == "wedge" else "panic"
    latency = ended - read_stamps(stamps, key)[key]
    return {"latency": latency, "verdict": verdict.kind.value, **message_facts(summary(result), workload)}


def hartbeat_firehose(command: list[str], stamps: Path, folder: Path) -> dict[str, Any]:
    """The firehose through hartbeat's console engine, up to the moment it matches.

    The engine itself, not the runner: a run that stops on a panic keeps logging for up to 2 s
    after it (the evidence), which is not reading speed.
    """
    from harness.engine.console import Console, ConsoleFiles, Matched, Watch
    from harness.engine.watch_kind import WatchKind
    from harness.model.plan import standard_fails
    from harness.targets.process import ProcessTarget

    target = ProcessTarget("firehose", command)
    files = ConsoleFiles.open(folder)
    console = Console(target.console(), files)
    console.start()
    target.power_on()
    watches = [Watch(f.name, WatchKind.FAIL, f.regex, partial=False) for f in standard_fails()]
    watches.append(Watch("end", WatchKind.EXPECT, re.compile(MARKER, re.MULTILINE)))
    try:
        outcome = console.wait_for(watches, deadline=600, silence=30)
        ended = time.monotonic()
        consumed = console.bytes_received
    finally:
        target.power_off()
        console.stop()
        files.close()
    found = outcome.watch.name if isinstance(outcome, Matched) else type(outcome).__name__.lower()
    return firehose_figures(consumed, ended - read_stamps(stamps, "first")["first"], found)


# -- labgrid ---------------------------------------------------------------------------------


LABGRID_BOARD_ENV = """
targets:
  main:
    drivers:
      ExternalConsoleDriver:
        cmd: {cmd}
"""

LABGRID_QEMU_ENV = f"""
targets:
  main:
    drivers:
      QEMUDriver:
        qemu_bin: qemu
        machine: virt
        cpu: rv64
        memory: 256M
        extra_args: "-smp 2"
        bios: bios
        kernel: kernel
      UBootDriver:
        prompt: "=> "
        autoboot: "Hit any key to stop autoboot"
images:
  bios: {FW_JUMP}
  kernel: {UBOOT}
tools:
  qemu: /usr/bin/qemu-system-riscv64
"""


def labgrid_worker(workload: str, settings: Settings, folder: Path) -> dict[str, Any]:
    """One workload through labgrid: an environment file, its drivers, their ``expect``."""
    import pexpect
    from labgrid import Environment

    if workload == "uboot":
        env_file = folder / "env.yaml"
        env_file.write_text(LABGRID_QEMU_ENV)
        walls = []
        for _ in range(settings.runs):
            start = time.monotonic()
            target = Environment(config_file=str(env_file)).get_target("main")
            qemu = target.get_driver("QEMUDriver")
            qemu.on()
            for pattern in (
                r"OpenSBI v[0-9.]+",
                r"Platform Name\s*: .+",
                r"Boot HART ID\s*: \d+",
                r"U-Boot 20\d\d\.\d\d",
            ):
                qemu.expect(pattern, timeout=30)
            uboot = target.get_driver("UBootDriver")  # activating it stops autoboot at the prompt
            output, _, code = uboot.run("version")
            assert code == 0 and any(line.startswith("U-Boot 20") for line in output), output
            assert uboot.run_check("echo hartbeat-smoke-marker") == ["hartbeat-smoke-marker"]
            qemu.off()  # QMP quit: labgrid powers QEMU off itself
            walls.append(time.monotonic() - start)
            target.deactivate_all_drivers()
        return {"walls": walls, "median": statistics.median(walls), "verdicts": ["pass"] * len(walls)}
    stamps = folder / "stamps.json"
    env_file = folder / "env.yaml"
    env_file.write_text(LABGRID_BOARD_ENV.format(cmd=json.dumps(shlex.join(board_command(workload, stamps, settings)))))
    target = Environment(config_file=str(env_file)).get_target("main")
    console = target.get_driver("ExternalConsoleDriver")  # activating it starts the board
    try:
        if workload == "firehose":
            names = ["end", *(name for name, _ in fail_patterns())]
            patterns = [re.compile(p.encode()) for p in [MARKER, *(p for _, p in fail_patterns())]]
            index, before, match, _ = console.expect([*patterns, pexpect.TIMEOUT], timeout=settings.budget)
            ended = time.monotonic()
            consumed = len(before) + (len(match.group(0)) if index < len(patterns) else 0)
            found = names[index] if index < len(patterns) else "timeout"
            return firehose_figures(consumed, ended - read_stamps(stamps, "first")["first"], found)
        timeout = -1 if settings.peer_timeout is None else settings.peer_timeout
        try:
            console.expect(LOGIN, timeout=timeout)
            message = "login prompt matched"
        except pexpect.TIMEOUT as exc:
            message = f"TIMEOUT: {exc}"
        ended = time.monotonic()
        key = "last" if workload == "wedge" else "panic"
        return {"latency": ended - read_stamps(stamps, key)[key], **message_facts(message, workload)}
    finally:
        target.deactivate_all_drivers()


# -- pytest-embedded -------------------------------------------------------------------------


def embedded_pytest(test: str, services: list[str], config: dict[str, Any], folder: Path, limit: float) -> None:
    """Run one test of ``peer_kit/embedded_workloads.py`` under pytest with pytest-embedded."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:hartbeat",
        "-p",
        "no:labgrid",
        "--rootdir",
        str(folder),
        "-c",
        str(folder / "pytest.ini"),
        f"{KIT / 'embedded_workloads.py'}::{test}",
        "--root-logdir",
        str(folder / "logs"),
        *services,
    ]
    (folder / "pytest.ini").write_text("[pytest]\n")
    # TMPDIR: pytest-embedded keeps a port cache in the system temp folder; keep it in ours.
    env = dict(os.environ, HARTBEAT_PEER=json.dumps(config), PEER_QEMU="qemu-system-riscv64", TMPDIR=str(folder))
    with (folder / "pytest.out").open("wb") as out:
        subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=limit, check=False, cwd=folder)


def embedded_worker(workload: str, settings: Settings, folder: Path) -> dict[str, Any]:
    """One workload through pytest-embedded's ``dut`` fixture and ``dut.expect``."""
    result = folder / "result.json"
    config: dict[str, Any] = {"result": str(result), "timeout": settings.peer_timeout, "runs": settings.runs}
    if workload == "uboot":
        image = folder / "flash_image.bin"
        image.write_bytes(b"")  # it must exist; the wrapper keeps it away from QEMU
        services = [
            "--embedded-services",
            "qemu",
            "--qemu-prog-path",
            str(KIT / "qemu-no-mtd"),
            "--qemu-cli-args",
            f"-nographic {QEMU_ARGS}",
            "--qemu-image-path",
            str(image),
        ]
        embedded_pytest("test_uboot", services, config, folder, limit=60 + 30 * settings.runs)
        if not result.exists():
            raise RuntimeError(f"pytest-embedded wrote no result; see {folder / 'pytest.out'}")
        walls = json.loads(result.read_text())["walls"]
        return {"walls": walls, "median": statistics.median(walls), "verdicts": ["pass"] * len(walls)}
    stamps, link = folder / "stamps.json", folder / "port"
    board = subprocess.Popen(board_command(workload, stamps, settings, pty=link), stdin=subprocess.DEVNULL)
    try:
        port = read_stamps_path(link)
        services = ["--embedded-services", "serial", "--port", port]
        if workload == "firehose":
            config |= {
                "budget": settings.budget,
                "marker": MARKER,
                "fails": [p for _, p in fail_patterns()],
                "fail_names": [name for name, _ in fail_patterns()],
            }
            embedded_pytest("test_firehose", services, config, folder, limit=settings.budget + 120)
            data = json.loads(result.read_text())
            first = read_stamps(stamps, "first")["first"]
            return firehose_figures(data["bytes"], data["ended"] - first, data["found"])
        embedded_pytest("test_login", services, config, folder, limit=(settings.peer_timeout or 30) + 120)
        data = json.loads(result.read_text())
        key = "last" if workload == "wedge" else "panic"
        return {"latency": data["ended"] - read_stamps(stamps, key)[key], **message_facts(data["message"], workload)}
    finally:
        board.kill()
        board.wait()


def read_stamps_path(link: Path, wait: float = 10.0) -> str:
    """The pty path the board wrote to ``link``."""
    deadline = time.monotonic() + wait
    while not link.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the board published no pty at {link}")
        time.sleep(0.02)
    return link.read_text().strip()


WORKERS = {"hartbeat": hartbeat_worker, "labgrid": labgrid_worker, "pytest-embedded": embedded_worker}
PACKAGES = {"hartbeat": "hartbeat", "labgrid": "labgrid", "pytest-embedded": "pytest-embedded"}


# -- the run ---------------------------------------------------------------------------------


def run_worker(peer: str, workload: str, settings: Settings) -> dict[str, Any]:
    """One (peer, workload) measurement in its own process; failures become the cell's reason."""
    try:
        metadata.version(PACKAGES[peer])
    except metadata.PackageNotFoundError:
        return {"unavailable": f"{peer} is not installed (pip install 'hartbeat[bench]')"}
    limit = 120 + settings.budget + 3 * max(settings.peer_timeout or 30, settings.silence) + 40 * settings.runs
    command = [sys.executable, __file__, "--worker", peer, workload, "--settings", json.dumps(asdict(settings))]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"unavailable": f"did not finish within {limit:.0f} s"}
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"unavailable": f"failed: {tail[:200]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def versions() -> dict[str, str]:
    """Versions of everything that took part."""
    found = {"python": platform.python_version()}
    for package in ("hartbeat", "labgrid", "pytest-embedded", "pytest-embedded-serial", "pytest-embedded-qemu"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    for package in ("pexpect", "pyserial", "pyserial-labgrid"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    try:
        qemu = subprocess.run(["qemu-system-riscv64", "--version"], capture_output=True, text=True, check=False)
        found["qemu"] = qemu.stdout.splitlines()[0] if qemu.stdout else "unknown"
    except OSError:
        found["qemu"] = "not installed"
    for package in ("opensbi", "u-boot-qemu"):
        query = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
        found[package] = query.stdout or "not installed"
    return found


def machine() -> dict[str, Any]:
    """The machine the figures come from, and how busy it was."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "host": platform.node(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
    }


def ratios(figures: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """hartbeat against each peer: how many times faster (throughput) or sooner (latencies, wall)."""
    ours = figures["hartbeat"]
    out: dict[str, dict[str, float]] = {}
    for peer in PEERS[1:]:
        theirs = figures.get(peer, {})
        row: dict[str, float] = {}
        for workload, key, higher_better in (
            ("firehose", "mb_per_s", True),
            ("wedge", "latency", False),
            ("panic", "latency", False),
            ("uboot", "median", False),
        ):
            a, b = ours.get(workload, {}).get(key), theirs.get(workload, {}).get(key)
            if a and b:
                row[workload] = a / b if higher_better else b / a
        out[peer] = row
    return out


def cell(workload: str, data: dict[str, Any]) -> str:
    """One table cell: the figure and what it means."""
    if "unavailable" in data:
        return f"n/a: {data['unavailable']}"
    if workload == "firehose":
        caught = "panic caught" if data["caught"] else f"panic missed ({data['found']})"
        return f"{data['mb_per_s']:.3g} MB/s, {data['bytes'] / 1e6:.3g} MB in {data['seconds']:.1f} s, {caught}"
    if workload in ("wedge", "panic"):
        named = (
            "milestone named"
            if data["names_milestone"]
            else ("only the pattern named" if data["shows_pattern"] else "nothing named")
        )
        shown = "last lines shown" if data["shows_last_line"] else "no console lines"
        return f"{data['latency']:.2f} s; {named}, {shown}"
    return f"{data['median']:.2f} s (runs: {', '.join(f'{w:.2f}' for w in data['walls'])})"


LABELS = {
    "firehose": "firehose (MB/s)",
    "wedge": "wedge: last byte to failure",
    "panic": "panic, target alive: to failure",
    "uboot": "healthy U-Boot plan (median wall)",
}


def table(results: dict[str, Any]) -> str:
    """The Markdown table of a results dictionary (also what readme_table.py puts in README.md)."""
    figures = results["figures"]
    lines = ["| workload | " + " | ".join(PEERS) + " |", "|---|" + "---|" * len(PEERS)]
    for workload in WORKLOADS:
        if all(workload not in figures.get(peer, {}) for peer in PEERS):
            continue
        cells = [cell(workload, figures.get(peer, {}).get(workload, {"unavailable": "not run"})) for peer in PEERS]
        lines.append(f"| {LABELS[workload]} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    for peer, row in results["ratios"].items():
        if row:
            parts = ", ".join(
                f"{workload} {value:.0f}x" if value >= 100 else f"{workload} {value:.1f}x"
                for workload, value in row.items()
            )
            lines.append(f"- hartbeat vs {peer}: {parts}")
    return "\n".join(lines)


def failure_messages(results: dict[str, Any]) -> str:
    """Each tool's wedge and panic failure as its user reads it: the line giving the reason.

    That is hartbeat's reason line (under its verdict and milestone times) and the peers' first
    line (a pexpect TIMEOUT and what follows it).
    """
    out = []
    for peer in PEERS:
        for workload in ("wedge", "panic"):
            data = results["figures"].get(peer, {}).get(workload, {})
            if "message" in data:
                lines = [line.strip() for line in data["message"].splitlines() if line.strip()]
                reason = next((line for line in lines if "milestone `" in line), lines[0] if lines else "")
                out.append(f"  {peer:16s} {workload:6s}: {reason[:160]}")
    return "\n".join(out)


def main() -> int:
    """Run every (peer, workload) pair, print the table and the ratios, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 2 MB firehose, short limits, one U-Boot run")
    parser.add_argument("--json", type=Path, help="write the results (machine, versions, figures) here")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of " + ", ".join(PEERS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    parser.add_argument("--peer-timeout", type=float, help="the peers' expect timeout (default: their own, 30 s)")
    parser.add_argument("--worker", nargs=2, metavar=("PEER", "WORKLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        peer, workload = options.worker
        settings = Settings(**json.loads(options.settings))
        with tempfile.TemporaryDirectory(prefix=f"peers-{peer}-{workload}-") as folder:
            print(json.dumps(WORKERS[peer](workload, settings, Path(folder))))
        return 0
    settings = TINY if options.tiny else Settings()
    if options.peer_timeout is not None:
        settings = Settings(**{**asdict(settings), "peer_timeout": options.peer_timeout})
    peers = [p for p in options.peers.split(",") if p]
    workloads = [w for w in options.workloads.split(",") if w]
    unknown = sorted(set(peers) - set(PEERS)) + sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown peer or workload: {', '.join(unknown)}")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    before = machine()
    figures: dict[str, dict[str, dict[str, Any]]] = {peer: {} for peer in PEERS}
    for workload in workloads:
        for peer in peers:
            print(f"peers: {workload} through {peer} ...", file=sys.stderr, flush=True)
            figures[peer][workload] = run_worker(peer, workload, settings)
    results = {
        "schema": "hartbeat.peers/1",
        "started": started,
        "settings": asdict(settings),
        "machine": {**before, "load_average_after": list(os.getloadavg())},
        "versions": versions(),
        "figures": figures,
    }
    results["ratios"] = ratios(figures)
    print(
        f"peers: {settings.megabytes} MB firehose (budget {settings.budget:.0f} s per peer), silence "
        f"{settings.silence:g} s for hartbeat, peers' expect timeout "
        f"{settings.peer_timeout or 'their default (30 s)'}, {settings.runs} U-Boot run(s) each"
    )
    print(table(results))
    print("failure messages (the reason line):")
    print(failure_messages(results))
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
