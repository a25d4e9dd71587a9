"""The console recorder alone: the bytes, the log lines and the timing lines it writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from harness.analysis.playback import load_recording
from harness.engine.recorder import CONSOLE_FILES, ConsoleFiles, Mark, Recorder


def recorder(folder: Path) -> tuple[Recorder, ConsoleFiles, list[str]]:
    files = ConsoleFiles.open(folder)
    failures: list[str] = []
    return Recorder(files, failures.append), files, failures


def test_the_three_files_are_created_and_raw_bytes_kept_as_they_came(tmp_path: Path) -> None:
    rec, files, failures = recorder(tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(CONSOLE_FILES)
    rec.raw(b"OpenSBI\r\r\n\xff\xfe")
    rec.raw(b"")
    rec.raw(b"U-Boot")
    files.close()
    assert (tmp_path / "run" / "console.raw").read_bytes() == b"OpenSBI\r\r\n\xff\xfeU-Boot"
    assert failures == []


def test_timing_lines_are_kind_time_and_detail_without_trailing_blanks(tmp_path: Path) -> None:
    rec, files, _ = recorder(tmp_path)
    rec.mark(Mark.GUEST_CLOCK, 0.0, "1000")
    rec.mark(Mark.POWER_ON, 0.0)
    rec.mark(Mark.DATA, 0.5, 12)
    rec.mark(Mark.TYPED, 1.25, 4)
    rec.mark(Mark.CLOSED, 2.0, "qemu exited with status 0")
    rec.mark(Mark.END, 2.5, "")
    # Flushed per line: a run killed now keeps every line written so far.
    assert (tmp_path / "console.timing").read_text().splitlines() == [
        "k 0.000000000 1000",
        "p 0.000000000",
        "d 0.500000000 12",
        "s 1.250000000 4",
        "c 2.000000000 qemu exited with status 0",
        "e 2.500000000",
    ]
    files.close()


def test_a_line_split_across_chunks_is_one_log_line_stamped_when_it_started(tmp_path: Path) -> None:
    rec, files, _ = recorder(tmp_path)
    rec.text("Linux ver", 1.5)
    rec.text("sion 6.1\nStarting ", 2.0)
    rec.text("init\n", 3.25)
    rec.text("", 4.0)
    rec.text("login: ", 5.0)
    log = (tmp_path / "console.log").read_text()
    assert log == "[    1.500000] Linux version 6.1\n[    2.000000] Starting init\n[    5.000000] login: "
    rec.end_line()
    rec.end_line()
    files.close()
    assert (tmp_path / "console.log").read_text().endswith("login: \n")
    assert (tmp_path / "console.log").read_text().count("\n") == 3


def test_empty_lines_keep_their_stamp_and_a_finished_log_gets_no_extra_newline(tmp_path: Path) -> None:
    rec, files, _ = recorder(tmp_path)
    rec.text("a\n\nb\n", 0.25)
    rec.end_line()
    files.close()
    assert (tmp_path / "console.log").read_text() == "[    0.250000] a\n[    0.250000] \n[    0.250000] b\n"


def test_what_the_recorder_writes_a_replay_reads_back(tmp_path: Path) -> None:
    rec, files, _ = recorder(tmp_path)
    rec.mark(Mark.POWER_ON, 0.0)
    for t, data in ((0.1, b"OpenSBI v1.3\r\n"), (0.2, b"U-Boot"), (0.3, b" 2024.01\r\n")):
        rec.raw(data)
        rec.mark(Mark.DATA, t, len(data))
        rec.text(data.decode().replace("\r\n", "\n"), t)
    rec.mark(Mark.JUDGED, 0.9)
    rec.mark(Mark.END, 1.0)
    files.close()
    events = load_recording(tmp_path).events
    assert [(e.kind, e.t, e.data) for e in events] == [
        ("p", 0.0, b""),
        ("d", 0.1, b"OpenSBI v1.3\r\n"),
        ("d", 0.2, b"U-Boot"),
        ("d", 0.3, b" 2024.01\r\n"),
        ("j", 0.9, b""),
        ("e", 1.0, b""),
    ]


def test_a_full_disk_is_reported_once_naming_the_file_and_nothing_is_written_after(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this system")
    files = ConsoleFiles(
        raw=full.open("wb", buffering=0),
        log=(tmp_path / "console.log").open("w", encoding="utf-8"),
        timing=(tmp_path / "console.timing").open("w", encoding="utf-8"),
    )
    failures: list[str] = []
    rec = Recorder(files, failures.append)
    rec.mark(Mark.POWER_ON, 0.0)
    rec.raw(b"boot")
    rec.raw(b"more")
    rec.mark(Mark.DATA, 0.1, 4)
    rec.text("boot\n", 0.1)
    files.close()
    assert failures == [f"cannot write the console log (/dev/full): {os.strerror(errno.ENOSPC)}"]
    assert rec.error == failures[0]
    assert (tmp_path / "console.timing").read_text() == "p 0.000000000\n"
    assert (tmp_path / "console.log").read_text() == ""


def test_a_closed_log_is_a_write_error_but_a_closed_timing_file_is_skipped(tmp_path: Path) -> None:
    rec, files, failures = recorder(tmp_path)
    assert files.timing is not None
    files.timing.close()
    rec.mark(Mark.DATA, 0.1, 1)
    assert failures == []
    files.log.close()
    rec.text("late\n", 0.2)
    assert len(failures) == 1 and "console.raw" in failures[0] and "closed file" in failures[0]


def test_without_files_nothing_is_written_and_nothing_fails() -> None:
    failures: list[str] = []
    rec = Recorder(None, failures.append)
    rec.raw(b"x")
    rec.mark(Mark.DATA, 0.0, 1)
    rec.text("x\n", 0.0)
    rec.end_line()
    assert failures == [] and rec.error is None
