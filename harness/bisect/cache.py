"""Artefact hashes and the verdict cache: two builds with the same bytes are one build."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1 << 20


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artefact_key(images: Iterable[tuple[str, Path]]) -> str:
    """One hash for a build: every slot's name and its file's sha256, in slot order."""
    digest = hashlib.sha256()
    for slot, path in sorted(images):
        digest.update(f"{slot}={file_hash(path)}\n".encode())
    return digest.hexdigest()


class VerdictCache:
    """Decided states by artefact key; thread-safe, filled from the journal on resume."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[str, str] | None:
        """``(state, build name that decided it)`` for a key already decided, else None."""
        with self._lock:
            return self._states.get(key)

    def put(self, key: str, state: str, build: str) -> None:
        """Remember a decision; the first build to decide a key stays its source."""
        with self._lock:
            self._states.setdefault(key, (state, build))
