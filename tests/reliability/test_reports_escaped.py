"""Control characters in the console (case 7): reports stay well-formed, console.raw keeps them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .helpers import hartbeat, write

COLOURED = r"""
import sys, time
out = sys.stdout.buffer
out.write(b"\x1b[0;32m[  OK  ]\x1b[0m Started Journal Service.\r\n")
out.write(b"\x1b]0;title\x07bell\x07 backspace\x08 nul\x00 vt\x0b esc-alone\x1b\r\n")
out.write(b"\x1b[1;31m[FAILED]\x1b[0m Failed to start \x1b[0;1;39mNetwork\x1b[0m.\r\n")
out.flush()
time.sleep(60)
"""


def test_ansi_and_control_characters_are_escaped_in_every_report(tmp_path: Path, program_board) -> None:
    board = program_board(COLOURED)
    plan = write(
        tmp_path / "plan.toml",
        """
        silence = "2s"
        [[milestone]]
        name = "login"
        expect = 'login:'
        """,
    )
    out = tmp_path / "run"
    proc = hartbeat("run", str(plan), "--board", str(board), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # junit.xml parses (it did not: ESC is not an XML character).
    suite = ET.parse(out / "junit.xml").getroot()
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.text is not None
    assert "[  OK  ] Started Journal Service." in failure.text
    assert "[FAILED] Failed to start Network." in failure.text
    for name in ("junit.xml", "report.json", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text), name
        assert "\\u001b" not in text, name
    verdict = json.loads((out / "report.json").read_text())["verdict"]
    assert "\x1b" not in verdict["signature"] and "\\x1b" not in verdict["signature"]
    assert verdict["signature"] == "wedge|-|[FAILED] Failed to start Network."
    # Other controls are shown, not dropped.
    assert any("bell\\x07 backspace\\x08 nul\\x00" in line["line"] for line in verdict["last_lines"])
    assert "\x1b" not in proc.stdout
    # The raw console keeps every byte.
    assert b"\x1b[0;32m[  OK  ]\x1b[0m" in (out / "console.raw").read_bytes()
