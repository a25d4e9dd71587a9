"""The ordered builds to bisect: subfolders of a folder, or commits of a git range built on demand."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.bisect.cache import artefact_key
from harness.errors import ConfigError

MANIFEST = "builds.toml"
BUILD_LOG_TAIL = 5


@dataclass(frozen=True)
class Build:
    """A build ready to boot: its place in the series and the file for each image slot."""

    index: int
    name: str
    images: tuple[tuple[str, Path], ...]
    key: str

    def image_overrides(self) -> dict[str, str]:
        """Slot to path, as a board's ``[images]`` takes them."""
        return {slot: str(path) for slot, path in self.images}


@dataclass(frozen=True)
class Unbuildable:
    """A build that cannot be tested (it failed, or lacks an artefact): it is a ``skip``."""

    index: int
    name: str
    reason: str


@dataclass(frozen=True)
class Commit:
    """What git says about a build of a git range: the subject line, the author, the repository and full id."""

    subject: str
    author: str
    repo: str = ""
    sha: str = ""


class Series(Protocol):
    """An ordered series of builds, oldest (good) first."""

    names: tuple[str, ...]
    # True when preparing a build is cheap (hashing files): all are prepared up front, so every
    # no-op change is reported, not only those next to a build tried.
    eager: bool

    def prepare(self, index: int) -> Build | Unbuildable:
        """The build's artefacts, building it first if needed."""
        ...

    def describe(self, index: int) -> Commit | None:
        """The commit a build comes from, when the series is a git range."""
        ...

    def revert(self, culprit: int) -> Build | Unbuildable | None:
        """The bad endpoint with build ``culprit``'s change reverted, built; ``None`` outside git mode."""
        ...


def collect_images(
    folder: Path, index: int, name: str, slots: Sequence[str], artifacts: Mapping[str, str]
) -> Build | Unbuildable:
    """A build from a folder: each ``--artifact`` slot's mapped file, else a file named like a slot."""
    images: list[tuple[str, Path]] = []
    for slot in sorted(set(slots) | set(artifacts)):
        path = folder / artifacts.get(slot, slot)
        if path.is_file():
            images.append((slot, path.resolve()))
        elif slot in artifacts:
            return Unbuildable(index, name, f"artefact for slot {slot!r} missing: {path}")
    if not images:
        return Unbuildable(index, name, f"no artefact for any image slot ({', '.join(slots) or 'none'}) in {folder}")
    return Build(index, name, tuple(images), artefact_key(images))


class FolderSeries:
    """One subfolder per build, in ``builds.toml`` order (``builds = [...]``) or by name."""

    eager = True

    def __init__(self, root: Path, slots: Sequence[str], artifacts: Mapping[str, str]) -> None:
        if not root.is_dir():
            raise ConfigError("--builds", str(root), "not a folder; expected one subfolder per build")
        self.root = root
        self.slots = tuple(slots)
        self.artifacts = dict(artifacts)
        self.names = self._order(root)
        if len(self.names) < 2:
            raise ConfigError("--builds", str(root), f"{len(self.names)} build(s); bisect needs a good and a bad one")

    @staticmethod
    def _order(root: Path) -> tuple[str, ...]:
        manifest = root / MANIFEST
        if not manifest.is_file():
            return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
        try:
            names = tomllib.loads(manifest.read_text(encoding="utf-8")).get("builds")
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(manifest, "", f"invalid TOML: {exc}") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(manifest, "builds", 'expected a list of subfolder names, e.g. ["build-000", "build-001"]')
        missing = [n for n in names if not (root / n).is_dir()]
        if missing:
            raise ConfigError(manifest, "builds", f"no such subfolder: {', '.join(missing)}")
        return tuple(names)

    def describe(self, index: int) -> Commit | None:
        """A folder of builds has no commits."""
        return None

    def revert(self, culprit: int) -> Build | Unbuildable | None:
        """A folder of builds has no change to revert."""
        return None

    def prepare(self, index: int) -> Build | Unbuildable:
        """The artefacts already in the build's folder."""
        name = self.names[index]
        return collect_images(self.root / name, index, name, self.slots, self.artifacts)


def git(repo: Path, *args: str) -> str:
    """A git command's stdout; a failure is a configuration error naming the command."""
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise ConfigError("--repo", str(repo), f"git {' '.join(args)}: {message}")
    return result.stdout.strip()


class GitSeries:
    """The first-parent commits from ``good`` to ``bad``, each built in a throw-away worktree.

    Artefacts are copied to ``<out>/builds/<name>/`` so a resumed bisect does not build again.
    """

    eager = False

    def __init__(
        self,
        repo: Path,
        good: str,
        bad: str,
        command: str,
        artifacts: Mapping[str, str],
        out: Path,
        timeout: float,
    ) -> None:
        if not (repo / ".git").exists():
            raise ConfigError("--repo", str(repo), "not a git checkout")
        if not artifacts:
            raise ConfigError("--artifact", "", "a git range needs --artifact SLOT=PATH for each image the build makes")
        self.repo = repo.resolve()
        self.command = command
        self.artifacts = dict(artifacts)
        self.out = out
        self.timeout = timeout
        good_sha = git(self.repo, "rev-parse", "--verify", f"{good}^{{commit}}")
        bad_sha = git(self.repo, "rev-parse", "--verify", f"{bad}^{{commit}}")
        check = subprocess.run(
            ["git", "-C", str(self.repo), "merge-base", "--is-ancestor", good_sha, bad_sha], check=False
        )
        if check.returncode != 0:
            raise ConfigError("--good", good, f"is not an ancestor of --bad {bad}; give an older good revision")
        later = git(self.repo, "rev-list", "--reverse", "--first-parent", "--ancestry-path", f"{good_sha}..{bad_sha}")
        self.commits = (good_sha, *later.split())
        self.names = tuple(git(self.repo, "rev-parse", "--short=10", sha) for sha in self.commits)
        self._git_lock = threading.Lock()

    def describe(self, index: int) -> Commit | None:
        """The commit's subject and author (``Name <mail>``)."""
        subject, _, author = git(self.repo, "log", "-1", "--format=%s%x00%an <%ae>", self.commits[index]).partition(
            "\0"
        )
        return Commit(subject, author, str(self.repo), self.commits[index])

    def revert(self, culprit: int) -> Build | Unbuildable | None:
        """The bad endpoint with the culprit reverted (``git revert --no-commit``), built once."""
        name = f"revert-{self.names[culprit]}"
        folder = self.out / "builds" / name
        done = folder / "built"
        if not done.is_file():
            failure = self._build(self.commits[-1], folder, revert=self.commits[culprit])
            if failure:
                return Unbuildable(len(self.names), name, failure)
            done.write_text(f"{self.commits[-1]} - {self.commits[culprit]}\n", encoding="utf-8")
        staged = {slot: Path(rel).name for slot, rel in self.artifacts.items()}
        return collect_images(folder, len(self.names), name, (), staged)

    def prepare(self, index: int) -> Build | Unbuildable:
        """Build the commit (or reuse the artefacts of an earlier build of it)."""
        name = self.names[index]
        folder = self.out / "builds" / f"{index:03d}-{name}"
        done = folder / "built"
        if not done.is_file():
            failure = self._build(self.commits[index], folder)
            if failure:
                return Unbuildable(index, name, failure)
            done.write_text(self.commits[index] + "\n", encoding="utf-8")
        staged = {slot: Path(rel).name for slot, rel in self.artifacts.items()}
        return collect_images(folder, index, name, (), staged)

    def _build(self, sha: str, folder: Path, revert: str | None = None) -> str | None:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        tree = self.out / "worktrees" / sha[:12]
        # git serialises worktree bookkeeping with a lock file; concurrent adds would fail on it.
        with self._git_lock:
            if tree.exists():
                git(self.repo, "worktree", "remove", "--force", str(tree))
            git(self.repo, "worktree", "add", "--detach", str(tree), sha)
        try:
            if revert is not None:
                undone = subprocess.run(
                    ["git", "-C", str(tree), "revert", "--no-commit", revert], capture_output=True, text=True
                )
                if undone.returncode != 0:
                    message = " | ".join((undone.stderr or undone.stdout).strip().splitlines()[-BUILD_LOG_TAIL:])
                    return f"{revert[:10]} does not revert cleanly on {sha[:10]}: {message}"
            with (folder / "build.log").open("w", encoding="utf-8") as log:
                # Its own session, so a timeout stops make and the compilers too, not only bash,
                # before the worktree is removed under them.
                build = subprocess.Popen(
                    ["bash", "-c", self.command], cwd=tree, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
                try:
                    status = build.wait(timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(build.pid, signal.SIGKILL)
                    build.wait()
                    return f"build timed out after {self.timeout:g} s (see {folder / 'build.log'})"
            if status != 0:
                tail = " | ".join((folder / "build.log").read_text(errors="replace").splitlines()[-BUILD_LOG_TAIL:])
                return f"build failed with status {status}: {tail}"
            for slot, rel in self.artifacts.items():
                source = tree / rel
                if not source.is_file():
                    return f"build made no {rel} for slot {slot!r}"
                shutil.copy2(source, folder / source.name)
            return None
        finally:
            with self._git_lock:
                git(self.repo, "worktree", "remove", "--force", str(tree))
