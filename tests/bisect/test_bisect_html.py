"""bisect.html: the answer and the table of builds, each build's runs linked to their own reports."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripted_series import make_series


def test_bisect_page_links_every_run_report(
    tmp_path: Path, scripted: tuple[Path, Path], bisect: Callable[..., tuple[int, dict[str, Any]]]
) -> None:
    builds = make_series(tmp_path, 8, culprit=5)
    out = tmp_path / "out"
    code, result = bisect(*scripted, builds, out, "--seed", "1", "--endpoint-runs", "2")
    assert code == 0 and result["first_bad"] == "build-005"
    page = (out / "bisect.html").read_text()
    assert "first bad build: <b>build-005</b>" in page
    links = re.findall(r'<a href="(runs/[^"]+/report\.html)">', page)
    assert len(links) == sum(row["runs"] for row in result["rows"])
    assert all((out / link).is_file() for link in links)
    assert any("wedge" in (out / link).read_text() for link in links)
