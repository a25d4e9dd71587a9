"""The testplan model: milestones in order, fail patterns, silence and deadlines (TOML)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.autopsy.model import DEFAULT_SAMPLES, DEFAULT_SPAN, MAX_SECONDS, SYSRQ_KEYS, AutopsySettings
from harness.engine.verdict import FAIL_PATTERN_KINDS, Kind
from harness.errors import ConfigError
from harness.model.config import Section, anchor_image, compile_regex, load_toml

DEFAULT_SILENCE = 15.0
DEFAULT_TIMEOUT = 300.0
DEFAULT_WITHIN = 60.0
DEFAULT_FAIL_AFTER = 2.0
# More samples than this cannot fit the autopsy's time limit usefully.
MAX_SAMPLES = 50

# Patterns every plan fails fast on unless it sets `default_fail = false`: the crash reports of
# Linux, OpenSBI, U-Boot and seL4 that never belong to a good boot.
# (name, pattern); the verdict is `panic` unless STANDARD_FAIL_KINDS says otherwise.
STANDARD_FAILS: tuple[tuple[str, str], ...] = (
    ("kernel-panic", r"Kernel panic - not syncing: (?P<reason>.*)"),
    ("oops", r"Oops(?: -|:) (?P<reason>.*)"),
    ("unhandled-exception", r"Unhandled exception: (?P<reason>.*)"),
    ("sbi-trap", r"sbi_trap_error: (?P<reason>.*)"),
    # One pattern per fault: a pattern that starts with a literal is scanned for at memory
    # speed, an alternation is not (it was 10x slower on a trace firehose).
    ("sel4-cap-fault", r"Caught cap fault(?P<reason>.*)"),
    ("sel4-vm-fault", r"vm fault on (?:code|data)(?P<reason>.*)"),
    ("sel4-unknown-syscall", r"Caught unknown syscall(?P<reason>.*)"),
    ("unknown-command", r"Unknown command '(?P<reason>[^']*)'"),
    # Linux's watchdogs: a lockup or stall is a verdict, not a line in the log nobody reads.
    ("soft-lockup", r"BUG: soft lockup - (?P<reason>.*)"),
    ("rcu-stall", r"rcu: INFO: rcu_\w+ (?P<reason>(?:self-detected stall|detected stalls).*)"),
    ("kernel-fault", r"Unable to handle kernel (?P<reason>.*)"),
    ("kernel-bug", r"kernel BUG at (?P<reason>.*)"),
)
# Reports after which the kernel goes on (an oops, a BUG, a lockup or stall warning): not a panic.
STANDARD_FAIL_KINDS: dict[str, Kind] = {
    name: Kind.OOPS for name in ("oops", "soft-lockup", "rcu-stall", "kernel-fault", "kernel-bug")
} | {"unknown-command": Kind.FAIL}


@dataclass(frozen=True)
class FailPattern:
    """A line that ends the run at once as ``kind`` (panic, oops or fail); ``after`` seconds more are logged.

    ``name`` is what the verdict calls it; without one (``""``) the verdict shows the matched line.
    """

    name: str
    regex: re.Pattern[str]
    after: float = DEFAULT_FAIL_AFTER
    kind: Kind = Kind.PANIC


def standard_fails() -> tuple[FailPattern, ...]:
    """The crash patterns every plan (and the pytest console fixture) fails fast on."""
    return tuple(
        FailPattern(name, re.compile(pattern, re.MULTILINE), kind=STANDARD_FAIL_KINDS.get(name, Kind.PANIC))
        for name, pattern in STANDARD_FAILS
    )


@dataclass(frozen=True)
class Milestone:
    """One step: optionally type something, then expect a line within a deadline.

    ``send`` is a line (the board's newline is added), ``keys`` are typed as they are. With
    ``prompt``, the step also waits for the prompt to come back; if it comes back before
    ``expect`` matched, the check failed (verdict ``fail``). ``exits`` expects the target to
    end (power-off); ``ssh`` runs a command on the booted board over SSH instead of the console.
    ``off`` is the end of a test, the same on every target: a target that can power itself off
    is told to (the board's ``off_command``) and must exit; a board on a bench (or a target with
    an empty ``off_command``) is switched off by hartbeat through its power backend. An ``off``
    step is also an ``exits`` step (waiting for it, the console going quiet is no wedge).
    """

    name: str
    expect: re.Pattern[str] | None
    within: float
    send: str | None = None
    keys: str | None = None
    prompt: re.Pattern[str] | None = None
    silence: float | None = None
    exits: bool = False
    ssh: str | None = None
    status: int | None = None
    off: bool = False

    def scaled(self, factor: float) -> Milestone:
        """The milestone with its deadline and silence limit multiplied by ``factor``."""
        return replace(self, within=self.within * factor, silence=self.silence * factor if self.silence else None)


@dataclass(frozen=True)
class Plan:
    """A testplan: the milestones a boot must reach, in order, and what ends it early."""

    name: str
    path: Path
    description: str
    silence: float
    timeout: float
    milestones: tuple[Milestone, ...]
    fails: tuple[FailPattern, ...]
    resets: tuple[re.Pattern[str], ...]
    variables: dict[str, str] = field(default_factory=dict)
    boards: tuple[str, ...] = ()
    images: dict[str, str] = field(default_factory=dict)
    # `[symbols]`: label -> a symbol file for the autopsy; `[autopsy]`: whether and how to take it.
    symbols: dict[str, str] = field(default_factory=dict)
    autopsy: AutopsySettings = field(default_factory=AutopsySettings)
    # The milestone `--until` cut the plan after, and how many milestones it left out.
    until: str | None = None
    left_out: int = 0

    def runs_on(self, board_name: str) -> bool:
        """Whether the plan is written for a board of this name: one of its ``boards`` patterns
        matches it (any board, when every pattern excludes) and none of its ``!`` patterns does."""
        included, excluded = self._board_patterns()
        if included and not any(fnmatch.fnmatchcase(board_name, pattern) for pattern in included):
            return False
        return not any(fnmatch.fnmatchcase(board_name, pattern) for pattern in excluded)

    def written_for(self) -> str:
        """The plan's ``boards`` in words: ``boards qemu-*``, ``any board but *qsoe*``."""
        included, excluded = self._board_patterns()
        text = f"boards {', '.join(included)}" if included else "any board"
        return f"{text} but {', '.join(excluded)}" if excluded else text

    def _board_patterns(self) -> tuple[list[str], list[str]]:
        """The ``boards`` patterns that include, and those that exclude (their ``!`` taken off)."""
        included = [pattern for pattern in self.boards if not pattern.startswith("!")]
        excluded = [pattern[1:] for pattern in self.boards if pattern.startswith("!")]
        return included, excluded

    def cut_after(self, name: str) -> Plan:
        """The plan ending with milestone ``name`` (``hartbeat run --until``); unknown names are listed."""
        names = [m.name for m in self.milestones]
        if name not in names:
            raise ConfigError(
                "--until", name, f"plan {self.name} has no milestone {name!r}; its milestones: {', '.join(names)}"
            )
        keep = names.index(name) + 1
        return replace(self, milestones=self.milestones[:keep], until=name, left_out=len(names) - keep)

    def scaled(self, factor: float) -> Plan:
        """The plan with every duration multiplied by ``factor`` (a slow target's ``time_scale``)."""
        if factor == 1.0:
            return self
        milestones = tuple(m.scaled(factor) for m in self.milestones)
        fails = tuple(replace(f, after=f.after * factor) for f in self.fails)
        return replace(
            self, silence=self.silence * factor, timeout=self.timeout * factor, milestones=milestones, fails=fails
        )


def load_plan(path: Path) -> Plan:
    """Read and validate a testplan TOML file."""
    root = Section(load_toml(path), path)
    name = root.string("name", path.stem) or path.stem
    description = root.string("description", "")
    silence = root.duration("silence", DEFAULT_SILENCE)
    timeout = root.duration("timeout", DEFAULT_TIMEOUT)

    milestones = tuple(_milestone(section) for section in root.tables("milestone"))
    if not milestones:
        raise ConfigError(path, "milestone", "no [[milestone]] entries; a plan needs at least one")
    seen: set[str] = set()
    for index, milestone in enumerate(milestones):
        if milestone.name in seen:
            raise ConfigError(path, f"milestone[{index}].name", f"duplicate milestone name {milestone.name!r}")
        seen.add(milestone.name)

    fails = [_fail(section) for section in root.tables("fail")]
    if root.boolean("default_fail", True):
        fails.extend(standard_fails())

    reset_patterns = root.str_list("reset")
    resets = tuple(compile_regex(pattern, path, f"reset[{index}]") for index, pattern in enumerate(reset_patterns))
    if not resets and milestones[0].expect is not None:
        resets = (milestones[0].expect,)

    variables = root.variables("variables")

    boards = tuple(root.str_list("boards"))
    for index, pattern in enumerate(boards):
        board_pattern = pattern.removeprefix("!")
        if not board_pattern or board_pattern != board_pattern.strip() or board_pattern.startswith("!"):
            raise ConfigError(path, f"boards[{index}]", f"expected a board name pattern or `!pattern`, got {pattern!r}")
    image_table = root.table("images")
    # A relative path is relative to the plan's folder, as a board's image paths are to its own.
    images = {
        slot: anchor_image(image_table.string(slot, required=True) or "", path.parent) for slot in image_table.data
    }
    symbol_table = root.table("symbols")
    symbols = {
        label: anchor_image(symbol_table.string(label, required=True) or "", path.parent) for label in symbol_table.data
    }
    autopsy = _autopsy(root.table("autopsy"))
    root.reject_unknown()
    return Plan(
        name=name,
        path=path,
        description=description,
        silence=silence or DEFAULT_SILENCE,
        timeout=timeout or DEFAULT_TIMEOUT,
        milestones=milestones,
        fails=tuple(fails),
        resets=resets,
        variables=variables,
        boards=boards,
        images=images,
        symbols=symbols,
        autopsy=autopsy,
    )


def _autopsy(section: Section) -> AutopsySettings:
    """``[autopsy]``: ``enabled``, ``samples`` (1-50), ``span`` and ``limit`` (seconds, limit at most 5),
    ``sysrq`` (SysRq keys to press on the console, e.g. ``"lw"``)."""
    samples = section.integer("samples", DEFAULT_SAMPLES)
    if not 1 <= samples <= MAX_SAMPLES:
        raise section.error("samples", f"expected 1 to {MAX_SAMPLES} samples, got {samples}")
    limit = section.number("limit", MAX_SECONDS, limit=MAX_SECONDS * 10) or 0.0
    if not 0 < limit <= MAX_SECONDS:
        raise section.error("limit", f"expected seconds above 0 and at most {MAX_SECONDS:g}, got {limit}")
    span = section.number("span", DEFAULT_SPAN, limit=MAX_SECONDS * 10)
    if span is None or not 0 <= span < limit:
        raise section.error("span", f"expected seconds from 0 to below the limit ({limit:g}), got {span}")
    sysrq = section.string("sysrq", "") or ""
    unknown = sorted(set(sysrq) - set(SYSRQ_KEYS))
    if unknown:
        known = ", ".join(f"{key} ({what})" for key, what in SYSRQ_KEYS.items())
        raise section.error("sysrq", f"unknown SysRq key {''.join(unknown)!r}; expected some of {known}")
    settings = AutopsySettings(
        enabled=section.boolean("enabled", True), samples=samples, span=span, limit=limit, sysrq=sysrq
    )
    section.reject_unknown()
    return settings


def _milestone(section: Section) -> Milestone:
    name = section.string("name", required=True) or ""
    off = section.boolean("off")
    exits = section.boolean("exits") or off
    ssh = section.string("ssh")
    expect = section.regex("expect", required=not exits and ssh is None)
    milestone = Milestone(
        name=name,
        expect=expect,
        within=section.duration("within", DEFAULT_WITHIN),
        send=section.string("send"),
        keys=section.string("keys"),
        prompt=section.regex("prompt"),
        silence=section.duration("silence"),
        exits=exits,
        ssh=ssh,
        status=section.integer("status"),
        off=off,
    )
    if off and (milestone.send or milestone.keys or milestone.expect or ssh):
        raise section.error(
            "off", "an `off` step types and expects nothing: how the target goes off is the board's (off_command)"
        )
    if milestone.send is not None and milestone.keys is not None:
        raise section.error("keys", "give either `send` (a line) or `keys` (raw keys), not both")
    if milestone.status is not None and ssh is None:
        raise section.error("status", "only an `ssh` step has an exit status to check")
    section.reject_unknown()
    return milestone


def _fail(section: Section) -> FailPattern:
    regex = section.regex("pattern", required=True)
    assert regex is not None
    kinds = {kind.value: kind for kind in FAIL_PATTERN_KINDS}
    kind = section.string("kind", Kind.PANIC.value) or Kind.PANIC.value
    if kind not in kinds:
        raise section.error("kind", f"expected one of {', '.join(kinds)}, got {kind!r}")
    fail = FailPattern(
        name=section.string("name", "") or "",
        regex=regex,
        after=section.duration("after", DEFAULT_FAIL_AFTER),
        kind=kinds[kind],
    )
    section.reject_unknown()
    return fail
