"""harness/bisect/search.py: split points, a search's states and what it asks next."""

from __future__ import annotations

import math

import pytest

from harness.bisect.search import Search, State, split_points


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


def test_a_pass_above_a_known_bad_build_does_not_move_the_answer() -> None:
    search = Search(size=12)
    search.decide(0, State.GOOD)
    search.decide(11, State.BAD)
    # Two targets at once on a flaky hang: build 3 showed the hang, build 7 passed by luck.
    search.decide(3, State.BAD)
    search.decide(7, State.GOOD)
    assert search.first_bad == 3
    assert search.last_good == 0
    assert search.testable() == [1, 2]
