"""harness/bisect/stats.py: the hang rate, the stopping rule and the confidence."""

from __future__ import annotations

import math

import pytest

from harness.bisect.stats import HangRate, confidence


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


def test_good_decisions_without_passes_do_not_zero_the_confidence() -> None:
    rate = HangRate.from_endpoint(5, 0, 5)
    assert confidence(rate, [(5, 1)]) == 1.0
