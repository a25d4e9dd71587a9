"""The pure parts of bisect: split points, search states, stopping rule, confidence, cache, replay."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.bisect.answer import rows_from_events, table
from harness.bisect.cache import VerdictCache, artefact_key
from harness.bisect.criterion import BadIf, Criterion, Outcome
from harness.bisect.journal import Journal, read_events
from harness.bisect.search import Search, State, split_points
from harness.bisect.stats import HangRate, confidence
from harness.bisect.trials import run_seed
from harness.engine.verdict import Kind, Verdict
from harness.errors import ConfigError


def test_one_target_takes_the_middle() -> None:
    assert split_points(list(range(1, 31)), 1) == [15]
    assert split_points([4, 5, 6], 1) == [5]


def test_k_targets_cut_the_range_in_k_plus_one_parts() -> None:
    assert split_points(list(range(1, 31)), 3) == [7, 15, 23]
    assert split_points([1, 2], 3) == [1, 2]
    assert split_points([], 2) == []


def test_skipped_builds_never_attract_a_point() -> None:
    testable = [1, 2, 3, 7, 8, 9]  # 4-6 were skips
    assert split_points(testable, 1) == [3]


@pytest.mark.parametrize("culprit", range(1, 32))
def test_one_target_needs_at_most_log2_tries(culprit: int) -> None:
    search = Search(32)
    tries = 0
    while points := search.next_candidates(1):
        tries += 1
        search.decide(points[0], State.BAD if points[0] >= culprit else State.GOOD)
    assert search.found and search.first_bad == culprit
    assert tries <= math.ceil(math.log2(32))


def test_three_targets_need_three_rounds_on_32_builds() -> None:
    search = Search(32)
    rounds = 0
    while points := search.next_candidates(3):
        rounds += 1
        for point in points:
            search.decide(point, State.BAD if point >= 20 else State.GOOD)
    assert search.first_bad == 20 and rounds <= 3


def test_skips_next_to_the_culprit_leave_a_range() -> None:
    search = Search(8)
    for index, state in {3: State.GOOD, 4: State.SKIP, 5: State.SKIP, 6: State.BAD}.items():
        search.decide(index, state)
    assert search.next_candidates(1) == [] and not search.found
    assert search.remaining() == [4, 5, 6]


def test_deterministic_hang_needs_one_pass() -> None:
    rate = HangRate.from_endpoint(5, 0, 5)
    assert rate.deterministic and rate.runs_needed(0.05) == 1 and rate.miss_chance(1) == 0.0


def test_fewer_hangs_than_endpoint_runs_is_not_deterministic() -> None:
    assert not HangRate.from_endpoint(3, 0, 5).deterministic
    assert not HangRate.from_endpoint(5, 0, 5).add(1, 2).deterministic


def test_stopping_rule_keeps_the_expected_miss_under_the_limit() -> None:
    rate = HangRate(bad=30, passed=70, deterministic=False)  # about 30 %
    n = rate.runs_needed(0.05)
    assert rate.miss_chance(n) < 0.05 <= rate.miss_chance(n - 1)
    # With that much data the posterior is close to the point estimate: (1 - 0.3)^n.
    assert abs(n - math.ceil(math.log(0.05) / math.log(0.7))) <= 1


def test_little_data_asks_for_more_runs_than_the_point_estimate() -> None:
    lucky = HangRate(bad=4, passed=1, deterministic=False)  # 80 % from five runs
    assert lucky.runs_needed(0.01) > math.ceil(math.log(0.01) / math.log(0.2))


def test_confidence_is_the_product_over_good_decisions() -> None:
    rate = HangRate(bad=30, passed=70, deterministic=False)
    alone = 1 - rate.miss_chance(9)
    assert confidence(rate, [(5, 9)]) == pytest.approx(alone)
    # A good build's passes also back the good builds below it.
    assert confidence(rate, [(5, 9), (2, 9)]) == pytest.approx(alone * (1 - rate.miss_chance(18)))
    assert confidence(HangRate(5, 0, True), [(1, 1), (2, 1)]) == 1.0


def test_criterion_modes() -> None:
    wedge = Verdict(Kind.WEDGE, "w", milestone="usr", key_line="tm_msg 0x11b")
    panic = Verdict(Kind.PANIC, "p", milestone="banner", key_line="Kernel panic")
    error = Verdict(Kind.ERROR, "e")
    by_signature = Criterion(BadIf.SIGNATURE, wedge.signature)
    assert by_signature.classify(wedge) is Outcome.BAD
    assert by_signature.classify(panic) is Outcome.OTHER
    assert by_signature.classify(Verdict(Kind.PASS, "ok")) is Outcome.GOOD
    assert Criterion(BadIf.WEDGE).classify(panic) is Outcome.OTHER
    # A harness error (power switch, lost port) is never the build's hang, even with --bad-if any.
    assert Criterion(BadIf.ANY).classify(error) is Outcome.OTHER
    assert Criterion(BadIf.ANY).classify(Verdict(Kind.SKIP, "no image")) is Outcome.OTHER


def test_artefact_key_and_cache(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    c.write_bytes(b"other")
    assert artefact_key([("kernel", a)]) == artefact_key([("kernel", b)]) != artefact_key([("kernel", c)])
    cache = VerdictCache()
    cache.put("k", "good", "build-001")
    cache.put("k", "bad", "build-002")
    assert cache.get("k") == ("good", "build-001") and cache.get("x") is None


def test_run_seeds_are_reproducible_and_distinct() -> None:
    assert run_seed(7, "build-001", 1) == run_seed(7, "build-001", 1)
    assert len({run_seed(7, f"build-{i}", a) for i in range(10) for a in range(1, 6)}) == 50


def test_replay_table_from_a_log(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "bisect.log")
    journal.write("start", names=["b0", "b1"], seed=1)
    for index, name, kind in ((0, "b0", "pass"), (1, "b1", "wedge")):
        journal.write("build", index=index, build=name, key="k")
        verdict = {"kind": kind, "reason": ""}
        journal.write(
            "run",
            index=index,
            build=name,
            key="k",
            attempt=1,
            seed=1,
            phase="endpoint",
            seconds=1.5,
            out_dir="x",
            outcome="good",
            verdict=verdict,
        )
        journal.write(
            "decision",
            index=index,
            build=name,
            state="good" if kind == "pass" else "bad",
            passes=1,
            runs=1,
            seconds=1.5,
            reason="",
            key="k",
            cached_from=None,
        )
    journal.close()
    rows = rows_from_events(read_events(tmp_path / "bisect.log"))
    assert [(r.name, r.state, r.runs, r.verdicts) for r in rows] == [
        ("b0", "good", 1, "passx1"),
        ("b1", "bad", 1, "wedgex1"),
    ]
    assert "no-op change" in rows[1].note
    assert "b1" in table(rows)


def test_a_log_must_start_with_a_start_event(tmp_path: Path) -> None:
    (tmp_path / "bisect.log").write_text('{"event": "run"}\n')
    with pytest.raises(ConfigError, match="not a hartbeat bisect log"):
        read_events(tmp_path / "bisect.log")


def test_a_pass_above_a_known_bad_build_does_not_move_the_answer() -> None:
    from harness.bisect.search import Search, State

    search = Search(size=12)
    search.decide(0, State.GOOD)
    search.decide(11, State.BAD)
    # Two targets at once on a flaky hang: build 3 showed the hang, build 7 passed by luck.
    search.decide(3, State.BAD)
    search.decide(7, State.GOOD)
    assert search.first_bad == 3
    assert search.last_good == 0
    assert search.testable() == [1, 2]


def test_harness_errors_are_never_the_hang() -> None:
    from harness.bisect.criterion import BadIf, Criterion, Outcome
    from harness.engine.verdict import Kind, Verdict

    for mode in BadIf:
        assert Criterion(mode, "wedge|x|y").classify(Verdict(Kind.ERROR, "power switch failed")) is Outcome.OTHER


def test_good_decisions_without_passes_do_not_zero_the_confidence() -> None:
    from harness.bisect.stats import HangRate, confidence

    rate = HangRate.from_endpoint(5, 0, 5)
    assert confidence(rate, [(5, 1)]) == 1.0


def test_a_torn_log_line_is_cut_before_appending(tmp_path) -> None:
    from harness.bisect.journal import Journal, read_events

    log = tmp_path / "bisect.log"
    log.write_text('{"event": "start"}\n{"event": "run", "bu')
    journal = Journal(log, read_events(log))
    journal.write("run", build="b1")
    journal.write("run", build="b2")
    journal.close()
    assert [e.get("build") for e in read_events(log)] == [None, "b1", "b2"]
