#!/usr/bin/env python3
"""Fetch Debian's own riscv64 kernel (``linux-image-*-riscv64`` from the trixie suite).

    python3 images/linux/distro.py [--quiet]

It runs ``apt-get`` with a private state: its own sources list (``[arch=riscv64]``, trixie),
lists and package cache under ``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux/distro/``; the
machine's apt configuration is read (for its Debian mirror) but never changed. The package is
unpacked with ``dpkg-deb -x`` into ``distro/<package>_<version>/`` (renamed into place when
complete) with the kernel as ``Image``; ``images/linux/out-distro`` points at it. Boot it with
the tiny image's initramfs (our init; the console drivers are built into Debian's kernel):

    hartbeat run linux-boot --board qemu-virt --image kernel=images/linux/out-distro/Image

The last line printed is the entry's path.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The sibling script, found beside this one (sys.path[0] when run as a script): one cache root,
# one atomic publish and one link update serve both kernels.
import build

HERE = Path(__file__).resolve().parent
SUITE = "trixie"
META_PACKAGE = "linux-image-riscv64"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


class FetchError(Exception):
    """No mirror, no network or no package: the message says which."""


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux/distro``."""
    return build.cache_root() / "distro"


def _source_files() -> list[Path]:
    files = [APT_SOURCES[0]] if APT_SOURCES[0].is_file() else []
    if APT_SOURCES[1].is_dir():
        files += sorted(p for p in APT_SOURCES[1].iterdir() if p.suffix in (".list", ".sources"))
    return files


def debian_mirror() -> str:
    """The machine's Debian archive URI (not its security mirror), from its own apt sources."""
    for path in _source_files():
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                suites = fields.get("Suites", "").split()
                if fields.get("Types", "").split()[:1] == ["deb"] and not any("security" in s for s in suites):
                    for uri in fields.get("URIs", "").split():
                        if uri.rstrip("/").endswith("/debian"):
                            return uri
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[1].rstrip("/").endswith("/debian"):
                    return words[1]
    raise FetchError(f"no Debian mirror (a deb .../debian source) in {', '.join(map(str, APT_SOURCES))}")


def _apt_options(state: Path) -> list[str]:
    """Options that give apt-get its own world: sources, lists, cache, no installed packages."""
    return [
        "-o",
        f"Dir::Etc::SourceList={state / 'sources.list'}",
        "-o",
        f"Dir::Etc::SourceParts={state / 'sources.list.d'}",
        "-o",
        f"Dir::Etc::Preferences={state / 'preferences'}",
        "-o",
        f"Dir::Etc::PreferencesParts={state / 'preferences.d'}",
        "-o",
        f"Dir::State={state / 'state'}",
        "-o",
        f"Dir::State::status={state / 'status'}",
        "-o",
        f"Dir::Cache={state / 'cache'}",
        "-o",
        "APT::Architecture=riscv64",
        "-o",
        "APT::Architectures=riscv64",
        "-o",
        "Debug::NoLocking=1",
        "-q",
    ]


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise FetchError(f"{argv[0]} not found (a Debian system with apt is needed)") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(argv[:2])} took more than 10 minutes") from None
    if proc.returncode != 0:
        raise FetchError(f"{' '.join(argv[:1] + argv[-2:])} failed: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def prepare_state(root: Path, mirror: str) -> Path:
    """The private apt state: our sources list for trixie riscv64, empty status and parts."""
    state = root / "apt"
    for folder in ("sources.list.d", "preferences.d", "state/lists/partial", "cache/archives/partial"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(f"deb [arch=riscv64 signed-by={KEYRING}] {mirror} {SUITE} main\n")
    (state / "status").touch()
    return state


def current_kernel_package(state: Path) -> str:
    """The versioned package the meta package depends on, e.g. ``linux-image-6.12.57+deb13-riscv64``."""
    out = _run(["apt-cache", *_apt_options(state), "depends", META_PACKAGE])
    for line in out.splitlines():
        match = re.match(r"\s*Depends:\s*(linux-image-\S+-riscv64)\s*$", line)
        if match:
            return match.group(1)
    raise FetchError(f"{META_PACKAGE} in {SUITE} names no linux-image-*-riscv64 package:\n{out}")


def fetch(quiet: bool = False) -> Path:
    """Download and unpack the current kernel package; returns its cache entry."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    state = prepare_state(root, debian_mirror())
    if not quiet:
        print(f"distro: apt-get update ({SUITE}, riscv64, private state in {state})", file=sys.stderr, flush=True)
    _run(["apt-get", *_apt_options(state), "update"])
    package = current_kernel_package(state)
    version = _run(["apt-cache", *_apt_options(state), "show", "--no-all-versions", package])
    match = re.search(r"^Version:\s*(\S+)", version, re.MULTILINE)
    if match is None:
        raise FetchError(f"apt-cache show {package} gave no Version")
    final = root / f"{package}_{match.group(1)}"
    if not final.is_dir():
        temp = Path(tempfile.mkdtemp(prefix=".pkg-", dir=root))
        try:
            if not quiet:
                print(f"distro: apt-get download {package}", file=sys.stderr, flush=True)
            _run(["apt-get", *_apt_options(state), "download", package], cwd=temp)
            debs = list(temp.glob("*.deb"))
            if len(debs) != 1:
                raise FetchError(f"apt-get download {package} left {len(debs)} .deb files in {temp}")
            _run(["dpkg-deb", "-x", str(debs[0]), str(temp / "root")])
            kernels = sorted((temp / "root" / "boot").glob("vmlinu*"))
            if not kernels:
                raise FetchError(f"{debs[0].name} has no /boot/vmlinu* kernel")
            shutil.copy2(kernels[0], temp / "Image")
            config = kernels[0].with_name(re.sub(r"^vmlinu[xz]", "config", kernels[0].name))
            if config.is_file():
                shutil.copy2(config, temp / "config")
            debs[0].unlink()
            shutil.rmtree(temp / "root")
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        build.publish(temp, final)
    build.point_out_link(final, "out-distro")
    return final


def main() -> int:
    """Command line: fetch, print the cache entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    args = parser.parse_args()
    try:
        entry = fetch(quiet=args.quiet)
    except FetchError as exc:
        print(f"images/linux/distro.py: {exc}", file=sys.stderr)
        return 1
    print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
