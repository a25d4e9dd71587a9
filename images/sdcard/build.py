#!/usr/bin/env python3
"""Build an SD card image for a SiFive board: SPL, U-Boot FIT, and a boot partition for Linux.

    python3 images/sdcard/build.py --board unleashed|unmatched [--kernel K] [--initrd I] [--dtb D]
                                   [--append ARGS] [--spl FILE|none] [--fit FILE]
                                   [--extlinux FILE] [--allow-foreign-dtb] [--no-link] [--quiet]

The layout SiFive documents for the HiFive boards (GPT, 512-byte sectors):

    1  spl    sectors 34-2081      type 5B193300-FC78-40CD-8002-E86C45580B47  u-boot-spl.bin
    2  uboot  sectors 2082-10273   type 2E54B353-1271-4842-806F-E436D6AF6985  u-boot.itb
    3  boot   sector 16384-        Linux filesystem, legacy-bootable (ext4):
              extlinux/extlinux.conf, Image, initrd, <board>.dtb

The mask ROM loads the SPL from the partition of its type; the SPL reads the FIT (OpenSBI,
U-Boot, U-Boot's device tree) from raw sector 0x822 (2082); U-Boot's distro boot finds
``extlinux/extlinux.conf`` on the legacy-bootable partition and boots the kernel, initrd and DTB
it names. The firmware is Debian's (images/sdcard/firmware.py); the default kernel and initrd
are the tiny Linux (images/linux/out), the default DTB Debian's own for the board
(images/linux/out-distro/dtbs). No root privileges: the table is written in Python
(harness/model/gpt.py), the filesystem by ``mke2fs -d`` (e2fsprogs) from a folder.

The image is cached by its inputs in ``${XDG_CACHE_HOME:-~/.cache}/hartbeat/sdcard/<hash>/``
(every input file's bytes, the options, mke2fs's version, this script and harness/model/gpt.py);
``images/sdcard/out/<board>.img`` links to the last one built for each board. QEMU's SD card
must be a power of two in size, so the image is rounded up to one (sparse). ``--spl none``,
``--fit``, ``--extlinux`` and ``--allow-foreign-dtb`` make the broken cards the tests use: a
card without its SPL partition, a corrupt FIT, a configuration naming a missing file, a device
tree for another board. The last line printed is the image's path.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
sys.path[1:1] = [str(HERE.parent), str(PROJECT)]
import firmware  # noqa: E402  (the sibling fetcher)
from debian_apt import FetchError  # noqa: E402
from image_cache import hartbeat_cache, point_link, publish  # noqa: E402

from harness.model import gpt, sdcard  # noqa: E402

LINUX = HERE.parent / "linux"
# Each board's root `compatible` (Linux's device trees), to refuse a DTB for the other board.
COMPATIBLE = {"unleashed": "sifive,hifive-unleashed-a00", "unmatched": "sifive,hifive-unmatched-a00"}
# The kernel's console on a SiFive UART; earlycon finds it from the DTB's stdout-path.
DEFAULT_APPEND = "console=ttySIF0,115200 earlycon"
SPL_FIRST, SPL_LAST = 34, 2081
FIT_FIRST, FIT_LAST = 2082, 10273
BOOT_FIRST = 16384
# Room in the boot filesystem beyond its files: ext4's own structures and a little slack.
BOOT_SLACK = 4 << 20
MKE2FS = "mke2fs"
# No `menu title` or `timeout`: with them U-Boot 2025.01 shows a menu and waits at
# "Enter choice:"; without them it boots the default label at once.
EXTLINUX = """\
# hartbeat SD card for the HiFive {board}: U-Boot's distro boot reads this file.
default hartbeat

label hartbeat
    kernel /Image
    initrd /initrd
    fdt /{board}.dtb
    append {append}
"""


class BuildError(Exception):
    """A missing input, a refused input or a failed tool; the message says which."""


@dataclass(frozen=True)
class Inputs:
    """What a card is made of."""

    board: str
    kernel: Path
    initrd: Path
    dtb: Path
    spl: Path | None
    fit: Path
    append: str
    extlinux: Path | None

    def files(self) -> dict[str, Path]:
        """The input files by role."""
        named = {"kernel": self.kernel, "initrd": self.initrd, "dtb": self.dtb, "fit": self.fit}
        if self.spl is not None:
            named["spl"] = self.spl
        if self.extlinux is not None:
            named["extlinux"] = self.extlinux
        return named


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/sdcard``."""
    return hartbeat_cache() / "sdcard"


def _tool(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BuildError(
            f"{argv[0]} not found; install Debian's e2fsprogs and device-tree-compiler (make deps)"
        ) from None
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc.stdout + proc.stderr


def dtb_compatible(dtb: Path) -> list[str]:
    """The root node's ``compatible`` strings (``fdtget``)."""
    return _tool(["fdtget", str(dtb), "/", "compatible"]).split()


def check_inputs(inputs: Inputs, allow_foreign_dtb: bool) -> None:
    """Every input exists; the DTB is for this board unless allowed otherwise."""
    for role, path in inputs.files().items():
        if not path.is_file():
            raise BuildError(f"--{role} {path}: no such file")
    wanted = COMPATIBLE[inputs.board]
    found = dtb_compatible(inputs.dtb)
    if wanted not in found and not allow_foreign_dtb:
        raise BuildError(
            f"--dtb {inputs.dtb}: compatible is {' '.join(found)!r}, not {wanted!r} (the {inputs.board}); "
            "give the board's own DTB (or --allow-foreign-dtb to build a broken card on purpose)"
        )


def cache_key(inputs: Inputs) -> str:
    """Hash of every input: file bytes, options, mke2fs's version, this script and the GPT writer."""
    h = hashlib.sha256()
    parts = [Path(__file__).read_bytes(), Path(gpt.__file__).read_bytes(), _tool([MKE2FS, "-V"]).encode()]
    parts += [inputs.board.encode(), inputs.append.encode(), b"spl" if inputs.spl else b"no-spl"]
    for role, path in sorted(inputs.files().items()):
        parts += [role.encode(), path.read_bytes()]
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:20]


def _boot_folder(inputs: Inputs, folder: Path) -> int:
    """Fill the boot partition's folder; returns the bytes of its files."""
    (folder / "extlinux").mkdir(parents=True)
    shutil.copyfile(inputs.kernel, folder / "Image")
    shutil.copyfile(inputs.initrd, folder / "initrd")
    shutil.copyfile(inputs.dtb, folder / f"{inputs.board}.dtb")
    conf = folder / "extlinux" / "extlinux.conf"
    if inputs.extlinux is not None:
        shutil.copyfile(inputs.extlinux, conf)
    else:
        conf.write_text(EXTLINUX.format(board=inputs.board, append=inputs.append))
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _power_of_two(value: int) -> int:
    return 1 << (value - 1).bit_length()


def write_card(inputs: Inputs, key: str, image: Path, work: Path) -> None:
    """The whole card in ``image``: table, SPL, FIT and the boot filesystem."""
    spl = inputs.spl.read_bytes() if inputs.spl is not None else b""
    fit = inputs.fit.read_bytes()
    if len(spl) > (SPL_LAST - SPL_FIRST + 1) * gpt.SECTOR:
        raise BuildError(f"--spl {inputs.spl}: {len(spl)} bytes do not fit the SPL partition")
    if len(fit) > (FIT_LAST - FIT_FIRST + 1) * gpt.SECTOR:
        raise BuildError(f"--fit {inputs.fit}: {len(fit)} bytes do not fit the U-Boot partition")
    files = work / "boot"
    used = _boot_folder(inputs, files)
    boot_sectors = (-(-(used + used // 8 + BOOT_SLACK) // (1 << 20)) << 20) // gpt.SECTOR
    sectors = _power_of_two((BOOT_FIRST + boot_sectors + gpt.FIRST_USABLE) * gpt.SECTOR) // gpt.SECTOR
    boot_last = sectors - gpt.FIRST_USABLE - 1
    # GUIDs from the key: the same inputs give the same card, byte for byte in the table.
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"hartbeat-sdcard:{key}:{n}") for n in range(5)]
    parts = [gpt.Partition(2, gpt.PartitionType.SIFIVE_UBOOT.value, ids[2], FIT_FIRST, FIT_LAST, "uboot")]
    if inputs.spl is not None:
        parts.insert(0, gpt.Partition(1, gpt.PartitionType.SIFIVE_SPL.value, ids[1], SPL_FIRST, SPL_LAST, "spl"))
    boot = gpt.Partition(
        3, gpt.PartitionType.LINUX_FS.value, ids[3], BOOT_FIRST, boot_last, "boot", gpt.LEGACY_BOOTABLE
    )
    parts.append(boot)
    with image.open("wb") as out:
        out.truncate(sectors * gpt.SECTOR)
        gpt.write_table(out, sectors, parts, ids[0])
        out.seek(SPL_FIRST * gpt.SECTOR)
        out.write(spl)
        out.seek(FIT_FIRST * gpt.SECTOR)
        out.write(fit)
    # ext4 straight into the partition's place in the image; the same UUID and hash seed for the
    # same inputs, files owned by root as on a card made with sudo.
    _tool(
        [
            MKE2FS, "-q", "-F", "-t", "ext4", "-L", "boot", "-U", str(ids[4]),
            "-E", f"offset={boot.offset},root_owner=0:0,hash_seed={ids[4]}",
            "-d", str(files), str(image), f"{boot.size // 1024}k",
        ]
    )  # fmt: skip


def build(inputs: Inputs, allow_foreign_dtb: bool = False, quiet: bool = False, link: bool = True) -> Path:
    """The card image for ``inputs`` (built, or found in the cache); returns its path.

    ``link``: point ``images/sdcard/out/<board>.img`` at it (what the board profiles boot).
    """
    check_inputs(inputs, allow_foreign_dtb)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = cache_key(inputs)
    final = root / key
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.is_dir():
            if not quiet:
                print(f"sdcard: building {inputs.board} card {key}", file=sys.stderr, flush=True)
            temp = Path(tempfile.mkdtemp(prefix=".card-", dir=root))
            try:
                write_card(inputs, key, temp / "sdcard.img", temp)
                shutil.rmtree(temp / "boot")
                lines = [f"board {inputs.board}", f"append {inputs.append}"]
                # Resolved: `images/linux/out` is a link each new build moves, and the autopsy
                # takes the kernel's symbols from the file named here (harness/model/sdcard.py).
                lines += [f"{role} {path.resolve()}" for role, path in sorted(inputs.files().items())]
                (temp / sdcard.RECORD).write_text("\n".join(lines) + "\n")
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
            publish(temp, final)
    if link:
        (HERE / "out").mkdir(exist_ok=True)
        point_link(HERE / "out" / f"{inputs.board}.img", final / "sdcard.img")
    return final / "sdcard.img"


def default_inputs(args: argparse.Namespace) -> Inputs:
    """The command line's inputs, with the defaults filled from the other caches."""
    board = args.board
    kernel = args.kernel or LINUX / "out" / "Image"
    initrd = args.initrd or LINUX / "out" / "initramfs.cpio"
    dtb = args.dtb or LINUX / "out-distro" / "dtbs" / f"hifive-{board}-a00.dtb"
    needs_firmware = args.fit is None or args.spl is None
    entry = firmware.fetch(quiet=args.quiet) / board if needs_firmware else None
    spl: Path | None
    if args.spl is not None and args.spl.lower() == "none":
        spl = None
    else:
        spl = Path(args.spl) if args.spl else entry / "u-boot-spl.bin"  # type: ignore[operator]
    fit = args.fit or entry / "u-boot.itb"  # type: ignore[operator]
    return Inputs(board, kernel, initrd, dtb, spl, fit, args.append, args.extlinux)


def main() -> int:
    """Command line: build (or find) the card, print its path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", choices=sorted(COMPATIBLE), required=True)
    parser.add_argument("--kernel", type=Path, help="Linux Image (default: the tiny Linux, images/linux/out)")
    parser.add_argument("--initrd", type=Path, help="initramfs (default: the tiny Linux's)")
    parser.add_argument("--dtb", type=Path, help="device tree (default: Debian's for the board, make linux-distro)")
    parser.add_argument("--append", default=DEFAULT_APPEND, help=f"kernel arguments (default {DEFAULT_APPEND!r})")
    parser.add_argument("--spl", help="SPL image, or 'none' for a card without the SPL partition")
    parser.add_argument("--fit", type=Path, help="U-Boot FIT image (default: Debian's u-boot.itb)")
    parser.add_argument("--extlinux", type=Path, help="extlinux.conf to use instead of the generated one")
    parser.add_argument("--allow-foreign-dtb", action="store_true", help="accept a DTB for another board")
    parser.add_argument("--no-link", action="store_true", help="leave images/sdcard/out/<board>.img as it is")
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    args = parser.parse_args()
    try:
        inputs = default_inputs(args)
        image = build(inputs, allow_foreign_dtb=args.allow_foreign_dtb, quiet=args.quiet, link=not args.no_link)
    except (BuildError, FetchError, gpt.GptError) as exc:
        print(f"images/sdcard/build.py: {exc}", file=sys.stderr)
        return 1
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
