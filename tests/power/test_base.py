"""``off_wait_on``, the power cycle of backends without a native one, and the switch protocol."""

from __future__ import annotations

import time
from typing import Any

from harness.power import power_from_board
from harness.power.base import PowerSwitch, off_wait_on


class Relay:
    """A switch that notes when each action happened (a real PowerSwitch, in memory)."""

    name = "relay"

    def __init__(self) -> None:
        self.actions: list[tuple[str, float]] = []

    def on(self) -> None:
        self.actions.append(("on", time.monotonic()))

    def off(self) -> None:
        self.actions.append(("off", time.monotonic()))

    def cycle(self, off_time: float) -> None:
        off_wait_on(self, off_time)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


def test_a_cycle_is_off_then_on_after_the_off_time() -> None:
    relay = Relay()
    relay.cycle(0.2)
    assert [action for action, _ in relay.actions] == ["off", "on"]
    (_, off_at), (_, on_at) = relay.actions
    assert on_at - off_at >= 0.2


def test_a_zero_off_time_still_switches_off_first() -> None:
    relay = Relay()
    off_wait_on(relay, 0.0)
    assert [action for action, _ in relay.actions] == ["off", "on"]


def test_the_switches_the_registry_builds_are_power_switches(board_with_power) -> None:
    manual = power_from_board(board_with_power('backend = "manual"\n')).switch
    command = power_from_board(board_with_power('backend = "command"\non = ["true"]\noff = ["false"]\n')).switch
    assert isinstance(Relay(), PowerSwitch)
    for switch in (manual, command):
        assert isinstance(switch, PowerSwitch), switch
        assert switch.describe()["backend"] == switch.name
    assert not isinstance(object(), PowerSwitch)
