"""``hartbeat replay``: judge a recorded run again, without a target.

The recording (``console.raw`` + ``console.timing``, or ``console.log``) is played into the
console engine on the recording's own clock (:mod:`harness.analysis.playback`), and the runner's own
steps judge it, with the run's plan or another one. With the same plan the verdict, its
signature and the milestone times are the live run's; with a new plan they are what that plan
would have said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.analysis.playback import Playback, Recording, load_recording
from harness.engine.console import Console
from harness.engine.recorder import Mark
from harness.engine.text import printable
from harness.engine.verdict import Kind, Verdict
from harness.errors import HartbeatError
from harness.model.plan import Milestone, Plan, load_plan
from harness.records.results import RunResult
from harness.records.run_folder import RecordedRun, load_run
from harness.run.runner import HARNESS_ENDED, UNFINISHED, Runner
from harness.run.setup import recorded
from harness.run.signals import INTERRUPTED

# What replay types: the recording already holds what the live run typed and its echo, so only
# the moment of typing matters (the playback moves to it), never the text.
TYPED = "(typed)"


class ReplayError(HartbeatError):
    """A run cannot be replayed (no recording, no plan to judge it with)."""


@dataclass(frozen=True)
class Replayed:
    """A replay's result next to the live run it replayed."""

    live: RecordedRun
    result: RunResult
    exact: bool

    @property
    def verdict(self) -> Verdict:
        """The replay's verdict."""
        return self.result.verdict

    def differences(self, tolerance: float = 0.001) -> list[str]:
        """How the replay differs from the live run: kind, milestones (reached and waited for),
        signature, key line, times."""
        live = self.live.verdict
        out = []
        for key, mine in (
            ("kind", self.verdict.kind.value),
            ("milestone", self.verdict.milestone),
            ("waiting_for", self.verdict.waiting_for),
            ("signature", self.verdict.signature),
            # As report.json keeps it: made printable (colour codes and control characters out).
            ("key_line", printable(self.verdict.key_line)),
        ):
            if live.get(key) != mine:
                out.append(f"{key}: live {live.get(key)!r}, replay {mine!r}")
        recorded = [(m.name, m.t) for m in self.live.milestones]
        replayed = [(m.name, m.t) for m in self.result.milestones]
        if [name for name, _t in recorded] != [name for name, _t in replayed]:
            out.append(f"milestones: live {[n for n, _ in recorded]}, replay {[n for n, _ in replayed]}")
        else:
            for (name, t_live), (_name, t_replay) in zip(recorded, replayed, strict=True):
                if abs(t_live - t_replay) > tolerance:
                    out.append(f"milestone {name}: live {t_live:.6f} s, replay {t_replay:.6f} s")
        return out


def replayable(run: RecordedRun) -> str | None:
    """Why a run cannot be replayed with its own plan, or ``None`` when it can."""
    if run.kind == Kind.SKIP.value:
        return "the live run was a skip: the target never powered on"
    reason = str(run.verdict.get("reason", ""))
    if reason == UNFINISHED:
        return "the live run did not finish (hartbeat was killed): its report is the one written before power-on"
    if reason.startswith(INTERRUPTED):
        return f"the live run was stopped by a signal ({reason}): its console went on after the stop"
    if reason.startswith(HARNESS_ENDED):
        return f"the live verdict is the harness's own error, not a judgement of the console ({reason[:80]})"
    plan_path = Path(str(run.report.get("plan", {}).get("path", "")))
    if not plan_path.is_file():
        return f"its plan {plan_path} is not a file (a pytest console session, or moved): give --plan"
    if not (run.folder / "console.timing").is_file() and not (run.folder / "console.log").is_file():
        return "it has no console recording"
    recording = ("console.raw", "console.log", "console.timing")
    if run.kind == Kind.ERROR.value and not any(_size(run.folder / name) for name in recording):
        return f"the live run's target failed before its console said anything ({reason[:80]})"
    names = [m.name for m in load_plan(plan_path).milestones]
    waiting = run.verdict.get("waiting_for")
    stepped = [m.name for m in run.milestones] + ([str(waiting)] if waiting else [])
    if stepped != names[: len(stepped)]:
        return f"its steps {stepped} are not its plan's (a Python test drove the runner): give --plan"
    return None


def _size(path: Path) -> int:
    """``path``'s size, 0 when it is not there."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _typing_only(plan: Plan) -> Plan:
    def placeholder(m: Milestone) -> Milestone:
        return replace(
            m,
            send=TYPED if m.send is not None else None,
            keys=TYPED if m.keys is not None else None,
        )

    return replace(plan, milestones=tuple(placeholder(m) for m in plan.milestones))


def _ssh_from_recording(run: RecordedRun, playback: Playback) -> Callable[[Milestone, Console], Verdict | None]:
    """SSH steps ran over the network, not the console: their recorded outcome stands."""
    reached = {m.name: m for m in run.milestones}

    def hook(milestone: Milestone, _console: Console) -> Verdict | None:
        if milestone.name in reached:
            playback.advance_to(reached[milestone.name].t)
            return None
        return Verdict.from_dict(run.verdict)

    return hook


def _switched_off(recording: Recording) -> bool | None:
    """True when the live run switched the target off (an ``f`` event), else ``None``.

    Whether an ``off`` step types or switches depends on the live board's kind and variables,
    which the replay's board does not have; the decision also sets how the step before it
    settles, so the replay must make the live one. Without an ``f`` the plan decides as before.
    """
    return True if any(event.kind is Mark.SWITCHED_OFF for event in recording.events) else None


def replay(folder: Path, plan_path: Path | None = None) -> Replayed:
    """Replay the run in ``folder`` through its own plan, or the plan at ``plan_path``."""
    run = load_run(folder)
    if plan_path is None:
        reason = replayable(run)
        if reason:
            raise ReplayError(f"{folder}: cannot replay: {reason}")
        plan_path = Path(str(run.report["plan"]["path"]))
    plan = load_plan(plan_path)
    until = run.report.get("plan", {}).get("until")
    if isinstance(until, str):
        # The live run was cut after this milestone (`run --until`): judge the same plan.
        plan = plan.cut_after(until)
    recording: Recording = load_recording(folder)
    playback = Playback(recording)
    console = playback.console()
    setup = recorded(run, _typing_only(plan), switched_off=_switched_off(recording))
    runner = Runner(setup, out_dir=folder, step_hooks={"ssh": _ssh_from_recording(run, playback)})
    return Replayed(run, runner.replay_on(console), recording.exact)
