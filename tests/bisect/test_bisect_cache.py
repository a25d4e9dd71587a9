"""harness/bisect/cache.py: builds known by their artefacts' bytes, verdicts cached by that key."""

from __future__ import annotations

from pathlib import Path

from harness.bisect.cache import VerdictCache, artefact_key


def test_artefact_key_and_cache(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    c.write_bytes(b"other")
    assert artefact_key([("kernel", a)]) == artefact_key([("kernel", b)]) != artefact_key([("kernel", c)])
    cache = VerdictCache()
    cache.put("k", "good", "build-001")
    cache.put("k", "bad", "build-002")
    assert cache.get("k") == ("good", "build-001") and cache.get("x") is None
