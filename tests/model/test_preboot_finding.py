"""A finding before boot (harness/model/preboot_finding.py): one line naming level, file, key and the fix."""

from __future__ import annotations

from harness.model.preboot_finding import Finding


def test_a_finding_reads_as_level_file_key_message() -> None:
    finding = Finding("error", "boards/u.toml", "serial.port", "/dev/ttyUSB1 missing; plug the board in")
    assert str(finding) == "error: boards/u.toml: serial.port: /dev/ttyUSB1 missing; plug the board in"
    assert not finding.unavailable


def test_a_finding_on_a_whole_file_has_no_key() -> None:
    assert str(Finding("warning", "plans/p.toml", "", "no milestone expects a prompt")) == (
        "warning: plans/p.toml: no milestone expects a prompt"
    )
