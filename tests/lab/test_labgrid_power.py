"""``power.backend = "labgrid"``: a board on this host switched by labgrid's own power driver."""

from __future__ import annotations

import pytest

from harness.engine.verdict import Kind

from .conftest import OFF_TIME, Lab

pytest.importorskip("labgrid", reason="the labgrid extra is not installed")


def labgrid_power(lab: Lab, model: str = "shelly_gen1") -> str:
    return f"""
    [power]
    backend = "labgrid"
    model = "{model}"
    host = "http://127.0.0.1:{lab.switch.port}"
    index = 0
    off_time = "{OFF_TIME}"
    """


@pytest.mark.slow
def test_uboot_smoke_with_power_through_labgrids_shelly_driver(lab: Lab) -> None:
    result = lab.run(lab.board_file(power=labgrid_power(lab)))
    assert result.verdict.kind is Kind.PASS, result.verdict.reason
    assert result.target["power"]["backend"] == "labgrid"
    assert result.target["power"]["driver"] == "NetworkPowerDriver"
    assert result.target["power"]["model"] == "shelly_gen1"
    # labgrid's shelly_gen1 model speaks the relay API: a POST on, later a POST off.
    posts = [r for r in lab.switch.requests if r.startswith("POST /relay/0")]
    assert len(posts) >= 2, lab.switch.requests
    assert not lab.board.running


def test_a_switch_that_fails_is_an_error_naming_the_driver(lab: Lab) -> None:
    lab.switch.close()
    result = lab.run(lab.board_file(power=labgrid_power(lab)))
    assert result.verdict.kind is Kind.ERROR
    assert "labgrid power NetworkPowerDriver" in result.verdict.reason
    assert "shelly_gen1" in result.verdict.reason
