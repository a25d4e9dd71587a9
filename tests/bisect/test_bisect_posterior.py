"""The posterior math of the bayes strategy and the progress line: pure functions, milliseconds."""

from __future__ import annotations

import io
import math
import random

import pytest

from harness.bisect.posterior import (
    Evidence,
    choose,
    contradicted,
    entropy,
    hang_rate,
    information,
    posterior,
    verify_runs,
)
from harness.bisect.progress import ERASE, Progress, Status, render


def test_prior_is_uniform_above_the_good_endpoint() -> None:
    mass = posterior(Evidence.empty(5))
    assert mass[0] == 0.0
    assert mass[1:] == pytest.approx([0.25] * 4)


def test_a_hang_bounds_the_culprit_and_a_flaky_pass_only_lowers_mass() -> None:
    evidence = Evidence.empty(10).add(9, True).add(6, True)
    mass = posterior(evidence)
    assert sum(mass[7:]) == 0.0 and sum(mass[1:7]) == pytest.approx(1.0)
    # A pass at 3 makes 1..3 less likely, not impossible: the hang may have been missed.
    after = posterior(evidence.add(3, False))
    assert 0.0 < after[2] < mass[2] and after[5] > mass[5]


def test_flaky_likelihood_is_the_beta_integral() -> None:
    # c = 1 and c = 2: builds 2 and 3 hold 1 hang and 2 passes -> B(2, 3); c = 3: 1 hang, 1 pass -> B(2, 2).
    evidence = Evidence.empty(4).add(3, True).add(3, False).add(2, False)
    mass = posterior(evidence)
    beta = lambda a, b: math.gamma(a) * math.gamma(b) / math.gamma(a + b)  # noqa: E731
    weights = [beta(2, 3), beta(2, 3), beta(2, 2)]
    assert mass[1:] == pytest.approx([w / sum(weights) for w in weights])


def test_deterministic_until_contradicted() -> None:
    evidence = Evidence.empty(8, deterministic_hint=True).add(7, True).add(3, False)
    assert evidence.deterministic
    assert posterior(evidence)[1:4] == [0.0, 0.0, 0.0]
    # Build 5 hangs after a pass at 6 -> not deterministic: the pass at 3 no longer rules out 1..3.
    flaky = evidence.add(6, False).add(5, True)
    assert not flaky.deterministic and posterior(flaky)[2] > 0.0


def test_skips_keep_mass_and_exclusions_lose_it() -> None:
    evidence = Evidence.empty(6).add(5, True).skip(3).exclude(2)
    mass = posterior(evidence)
    assert mass[2] == 0.0 and mass[3] == pytest.approx(mass[4])
    assert 3 not in choose(evidence, mass, 4)


def test_deterministic_choice_is_repeats_middle_split() -> None:
    for size in range(3, 40):
        evidence = Evidence.empty(size, deterministic_hint=True).add(size - 1, True)
        count = size - 2  # builds 1 .. size-2 are testable
        expected = [1 + (count + 1) // 2 - 1]
        assert choose(evidence, posterior(evidence), 1) == expected, size


def test_one_deterministic_boot_gives_at_most_one_bit() -> None:
    evidence = Evidence.empty(17, deterministic_hint=True).add(16, True)
    mass = posterior(evidence)
    assert information(mass, [1.0] * 17, [8]) == pytest.approx(1.0)
    assert entropy(mass) == pytest.approx(4.0)


def test_parallel_picks_spread_out() -> None:
    evidence = Evidence.empty(64, deterministic_hint=True).add(63, True)
    picks = choose(evidence, posterior(evidence), 3)
    assert len(set(picks)) == 3 and sorted(picks) == pytest.approx([16, 32, 48], abs=2)


def test_flaky_search_converges_on_the_culprit() -> None:
    rng = random.Random(7)
    culprit, rate = 23, 0.4
    evidence = Evidence.empty(40)
    for _ in range(5):
        evidence = evidence.add(39, rng.random() < rate)
    for _ in range(400):
        mass = posterior(evidence)
        if max(mass) >= 0.99:
            break
        for build in choose(evidence, mass, 1):
            evidence = evidence.add(build, build >= culprit and rng.random() < rate)
    mass = posterior(evidence)
    assert mass.index(max(mass)) == culprit and max(mass) >= 0.99
    # The rate is learnt from the boots at and after the culprit: the Beta posterior's mean.
    hangs, passes = sum(evidence.hangs[culprit:]), sum(evidence.passes[culprit:])
    assert hang_rate(evidence, mass) == pytest.approx((hangs + 1) / (hangs + passes + 2), abs=0.02)


def test_verify_runs_follow_the_hang_rate() -> None:
    assert verify_runs(5, 0, 0.01, True, 200) == 1
    # 30 hangs in 100 boots: (0.7)**n < 0.01 needs 13 boots, a little more with the uncertainty.
    assert 13 <= verify_runs(30, 70, 0.01, False, 200) <= 15
    assert verify_runs(1, 0, 0.01, False, 200) > verify_runs(30, 0, 0.01, False, 200)
    assert verify_runs(0, 1000, 0.01, False, 50) == 50


def test_progress_line_fields() -> None:
    line = render(Status("bayes", 7, "top build-012 0.80, mass left 0.20", 31, 2, 14), 12.4)
    assert line == (
        "bisect [bayes] round 7 | top build-012 0.80, mass left 0.20 | boots 31 done, 2 running | 12 s | ~14 boots left"
    )


def test_progress_redraws_on_a_terminal_and_prints_decisions_elsewhere() -> None:
    live, plain = io.StringIO(), io.StringIO()
    clock = iter(range(100)).__next__
    terminal = Progress(live, True, "bayes", clock=lambda: float(clock()))
    terminal.update(round=1, left="x")
    terminal.decision("build-003 bad")
    assert live.getvalue().startswith(ERASE) and "\n" not in live.getvalue()
    log = Progress(plain, False, "repeat")
    log.update(round=1, left="x")
    log.decision("build-003 bad")
    assert plain.getvalue().count("\n") == 1 and "build-003 bad" in plain.getvalue()


def test_a_build_that_hung_once_and_then_passes_forever_is_a_contradiction() -> None:
    evidence = Evidence.empty(10)
    for hung in (True, True, False, True, False):
        evidence = evidence.add(9, hung)
    evidence = evidence.add(4, True)
    for _ in range(8):
        evidence = evidence.add(4, False)
    assert contradicted(evidence) is None  # 8 misses of a ~60 % hang: unlikely, not impossible
    for _ in range(60):
        evidence = evidence.add(4, False)
    assert contradicted(evidence) == 4
