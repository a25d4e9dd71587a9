"""Testplans (harness/model/plan.py): milestones, errors naming file and key, --until, time_scale;
``[autopsy]`` in a plan, ``[symbols]`` in a board and a plan: read, checked, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.model.plan import load_plan
from harness.model.preboot_finding import Level
from harness.run.board_loader import load_board
from harness.run.preboot_check import check_symbols

PLAN = """
name = "p"
[[milestone]]
name = "banner"
expect = "x"
"""


def plan_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN + extra)
    return path


def top_keys(tmp_path: Path, top: str, tables: str = "") -> Path:
    """A plan with top-level keys (before any table) and tables after its milestone."""
    path = tmp_path / "plan.toml"
    path.write_text(top + PLAN + tables)
    return path


def test_the_defaults_and_a_plan_of_its_own(tmp_path: Path) -> None:
    default = load_plan(plan_with(tmp_path, "")).autopsy
    assert (default.enabled, default.samples, default.span, default.limit) == (True, 5, 0.5, 5.0)
    mine = load_plan(plan_with(tmp_path, "[autopsy]\nsamples = 3\nspan = 0.2\nlimit = 2\n")).autopsy
    assert (mine.samples, mine.span, mine.limit, mine.interval) == (3, 0.2, 2.0, 0.1)
    assert not load_plan(plan_with(tmp_path, "[autopsy]\nenabled = false\n")).autopsy.enabled


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ("samples = 0", "autopsy.samples", "expected 1 to 50 samples, got 0"),
        ("limit = 9", "autopsy.limit", "at most 5"),
        ("span = 5", "autopsy.span", "below the limit"),
        ("sample = 3", "autopsy.sample", "samples"),
    ],
)
def test_bad_values_name_the_file_and_the_key(tmp_path: Path, table: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_plan(plan_with(tmp_path, f"[autopsy]\n{table}\n"))
    assert key in str(caught.value) and words in str(caught.value) and "plan.toml" in str(caught.value)


def test_symbol_files_are_relative_to_their_file_and_checked_before_boot(tmp_path: Path) -> None:
    (tmp_path / "fw.elf").write_bytes(b"\x7fELF")
    board_path = tmp_path / "b.toml"
    board_path.write_text('target = "emulator"\n[symbols]\nbios = "fw.elf"\n[emulator]\nmachine = "virt"\n')
    board = load_board(str(board_path))
    assert board.symbols == {"bios": str(tmp_path / "fw.elf")}
    plan = load_plan(plan_with(tmp_path, '[symbols]\nkernel = "build/vmlinux"\n'))
    assert plan.symbols == {"kernel": str(tmp_path / "build" / "vmlinux")}
    findings = check_symbols(plan, board, {})
    assert [(f.level, f.key) for f in findings] == [(Level.WARNING, "symbols.kernel")]
    assert "autopsy will not name addresses from it" in findings[0].message


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('name = "p"\n', "milestone", "no [[milestone]] entries"),
        (PLAN + '[[milestone]]\nname = "banner"\nexpect = "y"\n', "milestone[1].name", "duplicate milestone name"),
        (PLAN + '[[milestone]]\nname = "b"\n', "milestone[1].expect", "missing; expected a regular expression"),
        (PLAN + '[[milestone]]\nname = "o"\noff = true\nsend = "poweroff"\n', "milestone[1].off", "types and expects"),
        (PLAN + '[[milestone]]\nname = "k"\nexpect = "y"\nsend = "a"\nkeys = "b"\n', "milestone[1].keys", "not both"),
        (PLAN + '[[milestone]]\nname = "s"\nexpect = "y"\nstatus = 0\n', "milestone[1].status", "only an `ssh` step"),
        (PLAN + '[[fail]]\npattern = "x"\nkind = "boom"\n', "fail[0].kind", "expected one of"),
        ('reset = ["("]\n' + PLAN, "reset[0]", ""),
        ('silence = "soon"\n' + PLAN, "silence", "expected a duration"),
        ("colour = 3\n" + PLAN, "colour", "unknown key"),
    ],
    ids=[
        "none",
        "duplicate",
        "no-expect",
        "off-sends",
        "send-and-keys",
        "status",
        "fail-kind",
        "reset",
        "silence",
        "unknown",
    ],
)
def test_a_bad_plan_is_one_error_naming_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_plan(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert words in message


def test_milestones_defaults_and_resets(tmp_path: Path) -> None:
    plan = load_plan(
        plan_with(
            tmp_path,
            '[[milestone]]\nname = "shell"\nexpect = "# "\nwithin = "90s"\n[[milestone]]\nname = "off"\noff = true\n',
        )
    )
    assert [m.name for m in plan.milestones] == ["banner", "shell", "off"]
    assert plan.milestones[1].within == 90.0 and plan.milestones[2].exits and plan.milestones[2].expect is None
    assert [r.pattern for r in plan.resets] == ["x"]  # the first milestone's banner coming back
    assert plan.fails, "the standard fail patterns are on by default"
    assert not load_plan(top_keys(tmp_path, "default_fail = false\n")).fails


def test_until_cuts_after_a_milestone_and_names_the_others(tmp_path: Path) -> None:
    plan = load_plan(plan_with(tmp_path, '[[milestone]]\nname = "shell"\nexpect = "# "\n'))
    cut = plan.cut_after("banner")
    assert [m.name for m in cut.milestones] == ["banner"] and (cut.until, cut.left_out) == ("banner", 1)
    with pytest.raises(ConfigError, match="has no milestone 'login'; its milestones: banner, shell"):
        plan.cut_after("login")


def test_time_scale_multiplies_every_limit(tmp_path: Path) -> None:
    plan = load_plan(
        top_keys(tmp_path, 'silence = "10s"\ntimeout = "100s"\n', '[[fail]]\npattern = "oops"\nafter = "2s"\n')
    )
    slow = plan.scaled(3.0)
    assert (slow.silence, slow.timeout) == (30.0, 300.0)
    assert slow.milestones[0].within == plan.milestones[0].within * 3
    assert [f.after for f in slow.fails] == [f.after * 3 for f in plan.fails]
    assert plan.scaled(1.0) is plan


def test_boards_patterns_choose_where_a_plan_runs(tmp_path: Path) -> None:
    plan = load_plan(top_keys(tmp_path, 'boards = ["qemu-*", "unmatched"]\n'))
    assert plan.runs_on("qemu-virt") and plan.runs_on("unmatched") and not plan.runs_on("emulator-virt")
    assert load_plan(plan_with(tmp_path, "")).runs_on("anything")
    # `!pattern` leaves boards out: of every board when no pattern includes, else of those included.
    anywhere_but = load_plan(top_keys(tmp_path, 'boards = ["!*-sd", "!*qsoe*"]\n'))
    # The plan keeps its own name (a pattern's check once took it).
    assert anywhere_but.name == plan.name == load_plan(plan_with(tmp_path, "")).name
    assert anywhere_but.runs_on("qemu-virt") and anywhere_but.runs_on("my-emulator")
    assert not anywhere_but.runs_on("qemu-sifive-u-sd") and not anywhere_but.runs_on("emulator-qsoe")
    qemu_but = load_plan(top_keys(tmp_path, 'boards = ["qemu-*", "!qemu-qsoe"]\n'))
    assert qemu_but.runs_on("qemu-virt") and not qemu_but.runs_on("qemu-qsoe") and not qemu_but.runs_on("unmatched")
    # What the warning and pytest's skip say.
    assert plan.written_for() == "boards qemu-*, unmatched"
    assert anywhere_but.written_for() == "any board but *-sd, *qsoe*"
    assert qemu_but.written_for() == "boards qemu-* but qemu-qsoe"


@pytest.mark.parametrize("pattern", ["!", "", "!!qemu-virt", "! *qsoe*", " ", "qemu-virt "])
def test_a_boards_pattern_that_names_nothing_is_refused_with_its_place(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_plan(top_keys(tmp_path, f'boards = ["qemu-virt", "{pattern}"]\n'))
    assert error.value.key == "boards[1]" and "`!pattern`" in str(error.value)
