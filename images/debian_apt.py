"""Fetch riscv64 packages from Debian's trixie suite with a private apt state.

Shared by ``images/linux/distro.py`` (Debian's kernel) and ``images/sdcard/firmware.py``
(``u-boot-sifive``). ``apt-get`` runs with its own sources list (``[arch=riscv64]``, trixie),
lists, package cache and an empty dpkg status under the caller's cache folder; the machine's apt
configuration is read (for its Debian mirror) but never changed. A package is unpacked with
``dpkg-deb -x`` into a temporary folder that the caller renames into place when it is complete.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = "trixie"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


class FetchError(Exception):
    """No mirror, no network or no package: the message says which."""


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


def apt_options(state: Path) -> list[str]:
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


def run(argv: list[str], cwd: Path | None = None) -> str:
    """Run a tool; its failure becomes a FetchError with the end of its error output."""
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise FetchError(f"{argv[0]} not found (a Debian system with apt is needed)") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"{' '.join(argv[:2])} took more than 10 minutes") from None
    if proc.returncode != 0:
        raise FetchError(f"{' '.join(argv[:1] + argv[-2:])} failed: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


class PrivateApt:
    """apt-get and apt-cache for trixie riscv64 with their state in ``root/apt``."""

    def __init__(self, root: Path, label: str, quiet: bool = False) -> None:
        self.root = root
        self.label = label
        self.quiet = quiet
        self.state = root / "apt"

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(f"{self.label}: {text}", file=sys.stderr, flush=True)

    def update(self) -> None:
        """Write our sources list (the machine's mirror, trixie, riscv64) and fetch its lists."""
        self.root.mkdir(parents=True, exist_ok=True)
        mirror = debian_mirror()
        for folder in ("sources.list.d", "preferences.d", "state/lists/partial", "cache/archives/partial"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        (self.state / "sources.list").write_text(f"deb [arch=riscv64 signed-by={KEYRING}] {mirror} {SUITE} main\n")
        (self.state / "status").touch()
        self._say(f"apt-get update ({SUITE}, riscv64, private state in {self.state})")
        run(["apt-get", *apt_options(self.state), "update"])

    def cache(self, *args: str) -> str:
        """``apt-cache ARGS`` in the private state."""
        return run(["apt-cache", *apt_options(self.state), *args])

    def version(self, package: str) -> str:
        """The candidate version of ``package``."""
        out = self.cache("show", "--no-all-versions", package)
        match = re.search(r"^Version:\s*(\S+)", out, re.MULTILINE)
        if match is None:
            raise FetchError(f"apt-cache show {package} gave no Version")
        return match.group(1)

    def unpacked(self, package: str) -> Path:
        """Download ``package`` and unpack it into a new temporary folder under ``root``.

        Returns the temporary folder; the package's files are in its ``root/``. The caller keeps
        what it needs, removes ``root/`` and publishes the folder (or removes it on failure).
        """
        temp = Path(tempfile.mkdtemp(prefix=".pkg-", dir=self.root))
        try:
            self._say(f"apt-get download {package}")
            run(["apt-get", *apt_options(self.state), "download", package], cwd=temp)
            debs = list(temp.glob("*.deb"))
            if len(debs) != 1:
                raise FetchError(f"apt-get download {package} left {len(debs)} .deb files in {temp}")
            run(["dpkg-deb", "-x", str(debs[0]), str(temp / "root")])
            debs[0].unlink()
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return temp
