#!/usr/bin/env python3
"""Fetch the SiFive boards' firmware from Debian: trixie's ``u-boot-sifive`` (riscv64).

    python3 images/sdcard/firmware.py [--update] [--quiet]

The package is fetched with a private apt state (images/debian_apt.py: its own sources list,
lists and cache under ``${XDG_CACHE_HOME:-~/.cache}/hartbeat/u-boot-sifive/``; the machine's
apt configuration is never changed) and unpacked into ``u-boot-sifive_<version>/`` there (renamed
into place when complete), one folder per board:

    unleashed/  u-boot-spl.bin  u-boot.itb  u-boot.bin  uboot.elf    (sifive_unleashed, FU540)
    unmatched/  u-boot-spl.bin  u-boot.itb  u-boot.bin  uboot.elf    (sifive_unmatched, FU740)

``u-boot-spl.bin`` goes on the card's SPL partition, ``u-boot.itb`` (a FIT holding OpenSBI,
U-Boot and the board's device tree) on its U-Boot partition; images/sdcard/build.py does that.
A cached entry is used without the network; ``--update`` asks the mirror for a newer version.
``images/sdcard/out-firmware`` points at the entry; the last line printed is its path.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from debian_apt import FetchError, PrivateApt
from image_cache import hartbeat_cache, point_link, publish

HERE = Path(__file__).resolve().parent
PACKAGE = "u-boot-sifive"
# hartbeat's board name -> the U-Boot configuration Debian builds for it.
BOARDS = {"unleashed": "sifive_unleashed", "unmatched": "sifive_unmatched"}
FILES = ("u-boot-spl.bin", "u-boot.itb", "u-boot.bin", "uboot.elf")

__all__ = ["BOARDS", "FILES", "FetchError", "cache_root", "fetch"]


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/u-boot-sifive``."""
    return hartbeat_cache() / PACKAGE


def _complete(entry: Path) -> bool:
    return all((entry / board / name).is_file() for board in BOARDS for name in FILES)


def cached() -> Path | None:
    """The newest complete entry already in the cache (no network), or None."""
    root = cache_root()
    entries = sorted(root.glob(f"{PACKAGE}_*")) if root.is_dir() else []
    complete = [entry for entry in entries if _complete(entry)]
    return complete[-1] if complete else None


def fetch(update: bool = False, quiet: bool = False) -> Path:
    """The cache entry of ``u-boot-sifive``: the cached one, or downloaded and unpacked."""
    entry = None if update else cached()
    if entry is None:
        root = cache_root()
        apt = PrivateApt(root, "firmware", quiet)
        apt.update()
        entry = root / f"{PACKAGE}_{apt.version(PACKAGE)}"
        if not _complete(entry):
            temp = apt.unpacked(PACKAGE)
            try:
                for board, config in BOARDS.items():
                    source = temp / "root" / "usr" / "lib" / "u-boot" / config
                    (temp / board).mkdir()
                    for name in FILES:
                        if not (source / name).is_file():
                            raise FetchError(f"{PACKAGE} has no /usr/lib/u-boot/{config}/{name}")
                        shutil.copy2(source / name, temp / board / name)
                shutil.rmtree(temp / "root")
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
            shutil.rmtree(entry, ignore_errors=True)  # an incomplete leftover, never a whole entry
            publish(temp, entry)
    point_link(HERE / "out-firmware", entry)
    return entry


def main() -> int:
    """Command line: fetch (or find), print the cache entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="ask the mirror for a newer version")
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    args = parser.parse_args()
    try:
        entry = fetch(update=args.update, quiet=args.quiet)
    except FetchError as exc:
        print(f"images/sdcard/firmware.py: {exc}", file=sys.stderr)
        return 1
    print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
