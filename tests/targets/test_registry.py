"""The registry of target kinds and power backends: one module and one line make a kind."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import harness
from harness import targets
from harness.cli import main
from harness.engine.verdict import Kind
from harness.errors import ConfigError
from harness.model.config import Section
from harness.model.plan import load_plan
from harness.power import BACKENDS, PowerBackend, power_backend
from harness.run.board_loader import load_board
from harness.run.preboot_check import preboot_findings
from harness.run.runner import Runner
from harness.run.setup import prepare
from harness.targets import KINDS, TargetKind, host_time_scale, target_kind

ROOT = Path(__file__).resolve().parents[2]

PLAN = """
name = "fake-smoke"
[[milestone]]
name = "banner"
expect = "OpenSBI v"
[[milestone]]
name = "prompt"
expect = "=> $"
[[milestone]]
name = "version"
send = "version"
expect = "U-Boot 2023"
"""

BOARD = """
target = "fake"
[fake]
boot = "OpenSBI v1.2\\r\\nU-Boot 2023.01\\r\\n=> "
[fake.replies]
version = "U-Boot 2023.01 (fake)\\r\\n=> "
"""


def test_every_registered_kind_and_backend_is_its_own_typed_entry() -> None:
    for name in KINDS:
        kind = target_kind(name)
        assert isinstance(kind, TargetKind) and kind.name == name
    for name in BACKENDS:
        backend = power_backend(name, Section({}, "board.toml", "power"))
        assert isinstance(backend, PowerBackend) and backend.name == name
    # Processes can run side by side; a physical board or a labgrid place is one.
    assert target_kind("qemu").copies is None and target_kind("emulator").copies is None
    assert target_kind("serial").copies == 1 and target_kind("labgrid").copies == 1


def test_an_unknown_kind_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text('target = "renode"\n')
    with pytest.raises(ConfigError, match="unknown target 'renode'; expected one of process, qemu"):
        load_board(str(tmp_path / "b.toml"))


def test_a_new_kind_is_one_module_and_one_registry_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """harness.targets.fake is a complete kind; registering it is the one line a new kind adds."""
    monkeypatch.setitem(targets.KINDS, "fake", "harness.targets.fake")
    (tmp_path / "plan.toml").write_text(PLAN)
    (tmp_path / "fake.toml").write_text(BOARD)
    board = load_board(str(tmp_path / "fake.toml"))
    plan = load_plan(tmp_path / "plan.toml")
    assert preboot_findings(prepare(plan, board)) == []
    result = Runner(prepare(plan, board), out_dir=tmp_path / "run").run()
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    assert result.target == {"kind": "fake", "name": "fake"}
    # Its section is validated like any other: a typo is a configuration error naming the key.
    (tmp_path / "typo.toml").write_text(BOARD.replace("boot =", "bot ="))
    with pytest.raises(ConfigError, match=r"fake\.bot: unknown key"):
        load_board(str(tmp_path / "typo.toml"))


def test_bisect_jobs_read_the_number_of_copies(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bisect", "uboot-smoke", "--board", "unmatched", "--builds", str(ROOT), "--jobs", "2"])
    assert code == 2
    assert "which has one copy; give --board once per real board instead" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"hartbeat {harness.__version__}"


def test_emulator_boards_judge_in_guest_seconds_under_either_interpreter() -> None:
    def scale(board: str, python: str, *more: tuple[str, str]) -> float:
        return load_board(board, overrides=[("emulator.python", python), *more]).time_scale

    # The guest clock runs alike under PyPy and CPython: no stretch of a plan's limits.
    assert scale("emulator-virt", "/usr/bin/pypy3") == 1
    assert scale("emulator-virt", sys.executable) == 1
    assert scale("emulator-unmatched", sys.executable) == 1
    # The board booting the Unmatched's own firmware from its card too: a 20 s silence there is
    # 20 guest seconds (it was 500, the board's old host stretch applied to guest seconds).
    assert scale("emulator-unmatched-sd", "/usr/bin/pypy3") == 1
    # A board (or `--set`) may still ask for one, and gets exactly that.
    assert scale("emulator-virt", sys.executable, ("time_scale", "2")) == 2
    # Outside the console (a pytest item's timeout) a plan second may take the emulator's slowdown.
    assert host_time_scale(load_board("emulator-virt", overrides=[("emulator.python", "/usr/bin/pypy3")])) == 25
    assert host_time_scale(load_board("emulator-virt", overrides=[("emulator.python", sys.executable)])) == 100
    assert host_time_scale(load_board("qemu-virt", overrides=[("time_scale", "3")])) == 3
    with pytest.raises(ConfigError) as error:
        scale("emulator-virt", sys.executable, ("emulator.cpython_slowdown", "0.5"))
    assert "emulator.cpython_slowdown" in str(error.value) and "at least 1" in str(error.value)
