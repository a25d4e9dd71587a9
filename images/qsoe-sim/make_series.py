#!/usr/bin/env python3
"""Generate an ordered series of qsoe-sim builds with a culprit at a known index.

Two shapes, for the two ways hartbeat bisects:

* ``--git DIR``: a repository with one commit per build; commit *i* rewrites
  ``build.conf`` and from the culprit on sets the fault. Tags ``first`` and
  ``last`` mark the ends, and ``make`` in any worktree writes ``out/qsoe.elf``.
* ``--folder DIR``: prebuilt ``build-NNN/qsoe.elf`` plus a ``builds.toml``
  manifest, and ``series.json`` with the ground truth for tests and benchmarks.

Example::

    python images/qsoe-sim/make_series.py --folder /tmp/series --count 32 --culprit 19 --fault wedge
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent
FAULTS = ("wedge", "panic", "stall", "nofence", "ipcwait", "flaky")
# What a series repository needs to build; everything else in SRC_DIR stays behind.
SOURCE_SUFFIXES = (".c", ".h", ".S", ".ld", ".mk")
SOURCE_NAMES = ("Makefile", "README.md", ".gitignore")
# Fixed identity and dates: the same arguments always give the same commit hashes.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "qsoe-series",
    "GIT_AUTHOR_EMAIL": "series@qsoe.invalid",
    "GIT_COMMITTER_NAME": "qsoe-series",
    "GIT_COMMITTER_EMAIL": "series@qsoe.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class BuildSpec:
    """One build of a series; noop builds carry their predecessor's configuration."""

    index: int
    number: int
    build_id: str
    fault: str
    unrelated_panic: bool
    noop: bool = False

    @property
    def name(self) -> str:
        """Folder name and commit label, e.g. ``build-007``."""
        return f"build-{self.index:03d}"

    def config(self) -> tuple[int, str, str, bool]:
        """Everything that reaches the compiler; equal configs build equal bytes."""
        return (self.number, self.build_id, self.fault, self.unrelated_panic)

    def make_vars(self) -> dict[str, str]:
        """Variables for the qsoe-sim Makefile (also the content of build.conf)."""
        return {
            "BUILD_NO": str(self.number),
            "BUILD_ID": self.build_id,
            "FAULT": self.fault,
            "UNRELATED_PANIC": "1" if self.unrelated_panic else "0",
        }


def parse_fault(text: str) -> str:
    """Validate a ``--fault`` value (``flaky:<percent>`` included) and return it unchanged."""
    kind, _, arg = text.partition(":")
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {text!r}; expected one of {', '.join(FAULTS)}")
    if kind == "flaky":
        if not arg.isdigit() or not 0 <= int(arg) <= 100:
            raise ValueError(f"{text!r}: flaky needs a percentage, e.g. flaky:30")
    elif arg:
        raise ValueError(f"{text!r}: only flaky takes an argument")
    return text


def parse_range(text: str) -> range:
    """``"A-B"`` (inclusive) or ``"A"`` to a range of build indices."""
    lo, _, hi = text.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def parse_indices(text: str) -> set[int]:
    """``"3,7,9"`` to a set of build indices."""
    return {int(part) for part in text.split(",") if part.strip()}


def flaky_wedges(seed: int, percent: int) -> bool:
    """Whether a ``flaky:<percent>`` build wedges when booted with ``seed=<seed>``.

    Mirrors mix64() in lib.c, so benchmarks know the ground truth of every flaky boot.
    """
    mask = (1 << 64) - 1
    x = (seed + 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return (x ^ (x >> 31)) % 100 < percent


def build_id_for(seed: int, number: int) -> str:
    """A stable, hash-looking build id, so logs can say which build ran."""
    return hashlib.sha1(f"qsoe-sim:{seed}:{number}".encode()).hexdigest()[:8]


def plan_series(
    count: int = 32,
    culprit: int | None = None,
    fault: str = "wedge",
    unrelated_panic: Iterable[int] = (),
    noop_builds: Iterable[int] = (),
    seed: int = 0,
) -> list[BuildSpec]:
    """Lay out the series: builds before ``culprit`` are clean, from it on they carry ``fault``.

    ``culprit`` defaults to two thirds of the way in. Builds in ``unrelated_panic``
    panic in devb-nvme whatever the culprit does; builds in ``noop_builds`` repeat
    their predecessor exactly (byte-identical artefact).
    """
    culprit = count * 2 // 3 if culprit is None else culprit
    panics = set(unrelated_panic)
    noops = set(noop_builds)
    parse_fault(fault)
    if count < 2:
        raise ValueError("a series needs at least two builds")
    if not 0 < culprit < count:
        raise ValueError(f"culprit must be in 1..{count - 1} so that the first build is good")
    bad = sorted(i for i in panics | noops if not 0 <= i < count)
    if bad:
        raise ValueError(f"build indices out of range: {bad}")
    if 0 in noops or culprit in noops:
        raise ValueError("the first build and the culprit cannot be no-op builds")

    specs: list[BuildSpec] = []
    for i in range(count):
        if i in noops:
            prev = specs[-1]
            specs.append(BuildSpec(i, prev.number, prev.build_id, prev.fault, prev.unrelated_panic, noop=True))
            continue
        specs.append(BuildSpec(i, i, build_id_for(seed, i), fault if i >= culprit else "none", i in panics))
    return specs


def _make(args: Sequence[str], cwd: Path | None = None) -> None:
    """Run the qsoe-sim Makefile, turning a failure into an exception that carries the log."""
    cmd = ["make", "-s", "-f", str(SRC_DIR / "Makefile"), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")


def build_image(spec: BuildSpec, build_dir: Path, obj_dir: Path) -> Path:
    """Build one image; objects in ``obj_dir`` are shared, only build.c is compiled."""
    make_vars = [f"{k}={v}" for k, v in spec.make_vars().items()]
    _make([f"BUILD_DIR={build_dir}", f"OBJ_DIR={obj_dir}", *make_vars])
    return build_dir / "qsoe.elf"


def build_folder(specs: Sequence[BuildSpec], out: Path, jobs: int | None = None) -> Path:
    """Build every spec into ``out/build-NNN/qsoe.elf`` and write the manifests; returns builds.toml."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qsoe-series-") as tmp:
        work = Path(tmp)
        obj_dir = work / "obj"
        _make([f"BUILD_DIR={work / 'common'}", f"OBJ_DIR={obj_dir}", "common"])
        # One compile per distinct configuration; noop builds reuse their predecessor's bytes.
        unique = {spec.config(): spec for spec in reversed(specs)}
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
            elves = dict(
                zip(
                    unique,
                    pool.map(lambda s: build_image(s, work / s.name, obj_dir), unique.values()),
                    strict=True,
                )
            )
        for spec in specs:
            dest = out / spec.name
            dest.mkdir(exist_ok=True)
            shutil.copyfile(elves[spec.config()], dest / "qsoe.elf")

    manifest = out / "builds.toml"
    names = ", ".join(f'"{spec.name}"' for spec in specs)
    manifest.write_text(f"# qsoe-sim series, oldest first; see series.json for what each holds.\nbuilds = [{names}]\n")
    (out / "series.json").write_text(json.dumps(series_truth(specs), indent=2) + "\n")
    return manifest


def series_truth(specs: Sequence[BuildSpec]) -> dict:
    """Ground truth for tests and benchmarks: where the culprit is and what each build does."""
    faulty = [s.index for s in specs if s.fault != "none"]
    return {
        "count": len(specs),
        "culprit": faulty[0] if faulty else None,
        "fault": specs[faulty[0]].fault if faulty else "none",
        "builds": [
            {
                "name": s.name,
                "number": s.number,
                "build_id": s.build_id,
                "fault": s.fault,
                "unrelated_panic": s.unrelated_panic,
                "noop": s.noop,
            }
            for s in specs
        ],
    }


def _git(repo: Path, *args: str, date: int = EPOCH) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": f"{date} +0000", "GIT_COMMITTER_DATE": f"{date} +0000"}
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout.strip()


def _commit_message(spec: BuildSpec, culprit: int) -> str:
    if spec.noop:
        return f"{spec.name}: docs: reword changelog"
    if spec.index == 0:
        return f"{spec.name}: qsoe-sim 0.0"
    if spec.index == culprit:
        return f"{spec.name}: init: reserve the child's proc slot before taskman replies"
    return f"{spec.name}: bump version to 0.{spec.number}"


def copy_sources(dest: Path) -> None:
    """Copy the image sources (not build outputs, not this generator) into ``dest``."""
    for path in sorted(SRC_DIR.iterdir()):
        if path.is_file() and (path.suffix in SOURCE_SUFFIXES or path.name in SOURCE_NAMES):
            shutil.copyfile(path, dest / path.name)


def build_git(specs: Sequence[BuildSpec], repo: Path) -> list[str]:
    """Create a repository with one commit per spec; returns the commit hashes, oldest first."""
    if repo.exists() and any(repo.iterdir()):
        raise ValueError(f"{repo} exists and is not empty")
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    copy_sources(repo)
    culprit = series_truth(specs)["culprit"]
    changelog = repo / "CHANGELOG"
    shas = []
    for spec in specs:
        if spec.noop:
            # Touches only a file the build never reads: same build.conf, same bytes.
            with changelog.open("a") as fh:
                fh.write(f"{spec.name}: wording\n")
        else:
            conf = "".join(f"{k} = {v}\n" for k, v in spec.make_vars().items())
            (repo / "build.conf").write_text(f"# Written by make_series.py for {spec.name}.\n{conf}")
            with changelog.open("a") as fh:
                fh.write(f"{spec.name}: 0.{spec.number}\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", _commit_message(spec, culprit), date=EPOCH + 60 * spec.index)
        shas.append(_git(repo, "rev-parse", "HEAD"))
    _git(repo, "tag", "first", shas[0])
    _git(repo, "tag", "last", shas[-1])
    return shas


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--git", type=Path, metavar="DIR", help="create a git repository, one commit per build")
    where.add_argument("--folder", type=Path, metavar="DIR", help="write prebuilt build-NNN/qsoe.elf + builds.toml")
    ap.add_argument("--count", type=int, default=32, help="number of builds (default 32)")
    ap.add_argument("--culprit", type=int, help="index of the first bad build (default: 2/3 of the way)")
    ap.add_argument("--fault", type=parse_fault, default="wedge", help="wedge|panic|stall|nofence|ipcwait|flaky:<pct>")
    ap.add_argument(
        "--unrelated-panic",
        type=parse_range,
        metavar="A-B",
        help="builds A..B panic in devb-nvme, independently of the culprit",
    )
    ap.add_argument(
        "--noop-builds",
        type=parse_indices,
        default=set(),
        metavar="I,J",
        help="builds identical to their predecessor (folder: byte-identical; git: docs-only commit)",
    )
    ap.add_argument("--seed", type=int, default=0, help="varies the build ids only")
    ap.add_argument("--jobs", type=int, help="parallel image builds (default: CPU count)")
    args = ap.parse_args(argv)

    try:
        specs = plan_series(
            args.count, args.culprit, args.fault, args.unrelated_panic or (), args.noop_builds, args.seed
        )
        truth = series_truth(specs)
        if args.git:
            shas = build_git(specs, args.git)
            print(f"repo    {args.git.resolve()}")
            print(f"first   {shas[0]} (tag first)")
            print(f"last    {shas[-1]} (tag last)")
            print(f"culprit {shas[truth['culprit']]} (build {truth['culprit']}, {truth['fault']})")
        else:
            manifest = build_folder(specs, args.folder, args.jobs)
            print(f"manifest {manifest.resolve()}")
            print(f"culprit  {specs[truth['culprit']].name} ({truth['fault']})")
    except (ValueError, RuntimeError) as exc:
        print(f"make_series: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
