"""A finding before boot (harness/model/preboot_finding.py): one line naming level, file, key and the fix."""

from __future__ import annotations

import json

from harness.model.preboot_finding import Finding, Level


def test_a_finding_reads_as_level_file_key_message() -> None:
    finding = Finding(Level.ERROR, "boards/u.toml", "serial.port", "/dev/ttyUSB1 missing; plug the board in")
    assert str(finding) == "error: boards/u.toml: serial.port: /dev/ttyUSB1 missing; plug the board in"
    assert not finding.unavailable


def test_a_finding_on_a_whole_file_has_no_key() -> None:
    assert str(Finding(Level.WARNING, "plans/p.toml", "", "no milestone expects a prompt")) == (
        "warning: plans/p.toml: no milestone expects a prompt"
    )


def test_a_level_is_written_as_its_word_in_text_and_json() -> None:
    # Reports, `hartbeat check` and scripts reading them see the same words as before the enum.
    assert [f"{level}" for level in Level] == ["error", "warning"]
    assert json.dumps({"level": Level.WARNING}) == '{"level": "warning"}'
    assert Level("error") is Level.ERROR
