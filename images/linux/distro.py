#!/usr/bin/env python3
"""Fetch Debian's own riscv64 kernel (``linux-image-*-riscv64`` from the trixie suite).

    python3 images/linux/distro.py [--quiet]

It runs ``apt-get`` with a private state: its own sources list (``[arch=riscv64]``, trixie),
lists and package cache under ``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux/distro/``; the
machine's apt configuration is read (for its Debian mirror) but never changed. The package is
unpacked with ``dpkg-deb -x`` into ``distro/<package>_<version>/`` (renamed into place when
complete) with the kernel as ``Image`` and the SiFive boards' device trees from the same package
in ``dtbs/`` (``hifive-unleashed-a00.dtb``, ``hifive-unmatched-a00.dtb``);
``images/linux/out-distro`` points at it. Boot it with
the tiny image's initramfs (our init; the console drivers are built into Debian's kernel):

    hartbeat run linux-boot --board qemu-virt --image kernel=images/linux/out-distro/Image

The last line printed is the entry's path.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

# The sibling script, found beside this one (sys.path[0] when run as a script): one cache root,
# one atomic publish and one link update serve both kernels. The private apt state is shared
# with the SD card's firmware fetcher (images/debian_apt.py).
import build

sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from debian_apt import SUITE, FetchError, PrivateApt
from image_cache import publish

HERE = Path(__file__).resolve().parent
META_PACKAGE = "linux-image-riscv64"
# Device trees kept beside the kernel: the boards an SD card is built for (images/sdcard).
DTB_GLOB = "sifive/hifive-*.dtb"

__all__ = ["FetchError", "cache_root", "fetch"]


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux/distro``."""
    return build.cache_root() / "distro"


def current_kernel_package(apt: PrivateApt) -> str:
    """The versioned package the meta package depends on, e.g. ``linux-image-6.12.57+deb13-riscv64``."""
    out = apt.cache("depends", META_PACKAGE)
    for line in out.splitlines():
        match = re.match(r"\s*Depends:\s*(linux-image-\S+-riscv64)\s*$", line)
        if match:
            return match.group(1)
    raise FetchError(f"{META_PACKAGE} in {SUITE} names no linux-image-*-riscv64 package:\n{out}")


def fetch(quiet: bool = False) -> Path:
    """Download and unpack the current kernel package; returns its cache entry."""
    root = cache_root()
    apt = PrivateApt(root, "distro", quiet)
    apt.update()
    package = current_kernel_package(apt)
    final = root / f"{package}_{apt.version(package)}"
    if final.is_dir() and not (final / "dtbs").is_dir():
        # An entry from before the device trees were kept: fetched again, whole.
        shutil.rmtree(final)
    if not final.is_dir():
        temp = apt.unpacked(package)
        try:
            kernels = sorted((temp / "root" / "boot").glob("vmlinu*"))
            if not kernels:
                raise FetchError(f"{package} has no /boot/vmlinu* kernel")
            shutil.copy2(kernels[0], temp / "Image")
            config = kernels[0].with_name(re.sub(r"^vmlinu[xz]", "config", kernels[0].name))
            if config.is_file():
                shutil.copy2(config, temp / "config")
            (temp / "dtbs").mkdir()
            for dtb in sorted((temp / "root" / "usr" / "lib").glob(f"linux-image-*/{DTB_GLOB}")):
                shutil.copy2(dtb, temp / "dtbs" / dtb.name)
            shutil.rmtree(temp / "root")
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        publish(temp, final)
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
