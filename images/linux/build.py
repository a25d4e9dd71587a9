#!/usr/bin/env python3
"""Build hartbeat's Linux test image: a tiny riscv64 kernel and an initramfs with our init.

    python3 images/linux/build.py [--quiet]

The kernel is Debian's ``linux-source-6.1`` configured with ``make tinyconfig`` plus
``kernel.config``, cross-built with ``riscv64-linux-gnu-gcc``; the initramfs holds ``init.c``
and ``hbtest.c`` built static. Results are cached outside the checkout, in
``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux/<hash>/``, where the hash covers every input: the
fragment, the init sources, the source package's version, the compiler's version, and the
recipe: the code of :func:`build_kernel` and :func:`build_initramfs` with the settings they
read (not the rest of this script, whose edits build nothing new). Each cache entry is built in
a temporary folder and renamed into place when complete, so a folder that exists is whole and
matches its inputs (a changed input is a new hash, never a stale hit). ``images/linux/out`` is
then pointed at the entry the boards boot. The last line printed is the entry's path.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The image scripts' shared cache mechanics (images/image_cache.py), found beside images/linux.
sys.path.insert(1, str(HERE.parent))
from image_cache import hartbeat_cache, point_link, publish  # noqa: E402

FRAGMENT = HERE / "kernel.config"
INIT_SOURCES = (HERE / "init.c", HERE / "hbtest.c")
SOURCE_PACKAGE = "linux-source-6.1"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
CROSS = "riscv64-linux-gnu-"
# Kept beside Image: the ELF kernel and its symbol table (no DWARF: the tiny kernel has none).
SYMBOL_FILES = ("vmlinux", "System.map")
TARGET_CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread")
# A setting in a configuration fragment (what merge_config.sh takes as one): a value, or unset.
CONFIG_LINE = re.compile(r"CONFIG_\w+=.*|# CONFIG_\w+ is not set")
# Stripped, but for hbtest: the autopsy names a test program's user-mode pcs with its symbol table.
KEEP_SYMBOLS = frozenset({"hbtest.c"})
# The initramfs: device nodes the kernel needs before devtmpfs is mounted, our init, the tests.
CPIO_LIST = """\
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /bin 0755 0 0
file /init {init} 0755 0 0
file /bin/hbtest {hbtest} 0755 0 0
"""


class BuildError(Exception):
    """A tool is missing or a build step failed; the message says which and what to do."""


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/hartbeat/linux``."""
    return hartbeat_cache() / "linux"


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except FileNotFoundError:
        raise BuildError(f"{argv[0]} not found; install the Debian packages (make deps)") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{' '.join(argv)} failed: {exc.stderr.strip()}") from None


def source_version() -> str:
    """The source package's Debian version (the tarball's identity)."""
    if not TARBALL.is_file():
        raise BuildError(f"{TARBALL} not found; install Debian's {SOURCE_PACKAGE} (make deps)")
    version = _output(["dpkg-query", "-W", "-f=${Version}", SOURCE_PACKAGE])
    if not version:
        raise BuildError(f"{SOURCE_PACKAGE} is not installed (dpkg-query knows no version); make deps")
    return version


def compiler_version() -> str:
    """The cross compiler's version line."""
    return _output([f"{CROSS}gcc", "--version"]).splitlines()[0]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()[:20]


def kernel_recipe() -> list[str]:
    """How the kernel is built from its inputs: :func:`build_kernel`'s code and what it reads."""
    return [
        inspect.getsource(build_kernel),
        inspect.getsource(check_config),
        inspect.getsource(config_lines),
        CONFIG_LINE.pattern,
        CROSS,
        *SYMBOL_FILES,
    ]


def image_recipe() -> list[str]:
    """How the image is put together: :func:`build_initramfs`'s code, its settings, the files kept."""
    settings = [*TARGET_CFLAGS, *sorted(KEEP_SYMBOLS), CPIO_LIST, *SYMBOL_FILES]
    return [inspect.getsource(build_initramfs), *settings]


def kernel_key(fragment: bytes, version: str, compiler: str) -> str:
    """Hash of what the kernel depends on: its inputs and its recipe, never this script's bytes
    (an edit elsewhere in it must not rebuild the kernel, a 3-minute job, for everyone)."""
    recipe = [part.encode() for part in kernel_recipe()]
    return _digest(b"kernel", fragment, version.encode(), compiler.encode(), *recipe)


def image_key(kernel: str, sources: dict[str, bytes]) -> str:
    """Hash of the whole image: the kernel's key, the init sources and the image's recipe."""
    recipe = [part.encode() for part in image_recipe()]
    return _digest(b"image", kernel.encode(), *(sources[name] for name in sorted(sources)), *recipe)


def _run(argv: list[str], cwd: Path | None, log: Path, quiet: bool) -> None:
    if not quiet:
        print(f"build: {' '.join(argv)}", file=sys.stderr, flush=True)
    with log.open("a") as out:
        proc = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise BuildError(f"{' '.join(argv)} failed (status {proc.returncode}); last lines of {log}:\n{tail}")


def extracted_source(root: Path, version: str, quiet: bool) -> Path:
    """The unpacked source tree for this package version (unpacked once, atomically)."""
    final = root / f"src-{version}"
    if final.is_dir():
        return final / "linux-source-6.1"
    temp = Path(tempfile.mkdtemp(prefix=".src-", dir=root))
    if not quiet:
        print(f"build: unpacking {TARBALL}", file=sys.stderr, flush=True)
    try:
        _run(["tar", "-xf", str(TARBALL), "-C", str(temp)], None, temp.parent / f"{temp.name}.log", quiet)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    (temp.parent / f"{temp.name}.log").unlink(missing_ok=True)
    return publish(temp, final) / "linux-source-6.1"


def build_kernel(root: Path, source: Path, key: str, fragment: bytes, version: str, quiet: bool) -> Path:
    """``Image``, its ``.config``, ``vmlinux`` and ``System.map`` in ``root/kernel-<key>/``."""
    final = root / f"kernel-{key}"
    if final.is_dir():
        return final
    temp = Path(tempfile.mkdtemp(prefix=".kernel-", dir=root))
    build = temp / "build"
    log = temp / "build.log"
    # The bytes that were hashed are the bytes that are built, even if the file changes meanwhile.
    fragment_copy = temp / "kernel.config"
    fragment_copy.write_bytes(fragment)
    make = ["make", "-C", str(source), f"O={build}", "ARCH=riscv", f"CROSS_COMPILE={CROSS}"]
    # No build host, user or time in `Linux version ...`: the same inputs give the same bytes.
    make += ["KBUILD_BUILD_USER=hartbeat", "KBUILD_BUILD_HOST=hartbeat", f"KBUILD_BUILD_TIMESTAMP={version}"]
    try:
        _run([*make, "tinyconfig"], None, log, quiet)
        merge = source / "scripts" / "kconfig" / "merge_config.sh"
        _run(["sh", str(merge), "-m", "-O", str(build), str(build / ".config"), str(fragment_copy)], build, log, quiet)
        _run([*make, "olddefconfig"], None, log, quiet)
        check_config(fragment.decode(), build / ".config")
        _run([*make, f"-j{os.cpu_count() or 2}", "Image"], None, log, quiet)
        shutil.copy2(build / "arch" / "riscv" / "boot" / "Image", temp / "Image")
        shutil.copy2(build / ".config", temp / "config")
        # The symbols of the kernel that runs: the wedge autopsy names kernel pcs with them.
        for name in SYMBOL_FILES:
            shutil.copy2(build / name, temp / name)
        shutil.rmtree(build)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return publish(temp, final)


def config_lines(fragment: str) -> list[str]:
    """The fragment's settings: ``CONFIG_X=...`` and ``# CONFIG_X is not set``, as Kconfig's
    merge_config.sh reads them; any other line, a comment that names a symbol too, is a comment."""
    return [line.strip() for line in fragment.splitlines() if CONFIG_LINE.fullmatch(line.strip())]


def check_config(fragment: str, config: Path) -> None:
    """Every setting of the fragment made it into the final configuration."""
    final = set(config.read_text().splitlines())
    missing = [line for line in config_lines(fragment) if line not in final]
    if missing:
        raise BuildError(
            f"{FRAGMENT}: Kconfig did not keep {', '.join(missing)} (a dependency is missing); "
            f"see {config} for what it chose"
        )


def build_initramfs(source: Path, temp: Path, sources: dict[str, bytes], quiet: bool) -> None:
    """``init``, ``hbtest`` and ``initramfs.cpio`` (the kernel's own gen_init_cpio) in ``temp``."""
    log = temp / "build.log"
    cc = f"{CROSS}gcc"
    for name, text in sources.items():
        src = temp / name
        src.write_bytes(text)
        strip = () if name in KEEP_SYMBOLS else ("-s",)
        _run([cc, *TARGET_CFLAGS, *strip, "-o", str(temp / src.stem), str(src)], None, log, quiet)
    gen = temp / "gen_init_cpio"
    _run(["cc", "-O2", "-o", str(gen), str(source / "usr" / "gen_init_cpio.c")], None, log, quiet)
    listing = temp / "initramfs.list"
    listing.write_text(CPIO_LIST.format(init=temp / "init", hbtest=temp / "hbtest"))
    with (temp / "initramfs.cpio").open("wb") as out:
        proc = subprocess.run([str(gen), str(listing)], stdout=out, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise BuildError(f"gen_init_cpio failed: {proc.stderr.decode(errors='replace').strip()}")
    gen.unlink()


def point_out_link(entry: Path, name: str = "out") -> None:
    """Make ``images/linux/<name>`` name ``entry`` (replaced atomically)."""
    point_link(HERE / name, entry)


def build(quiet: bool = False) -> Path:
    """Build (or find in the cache) the kernel and initramfs; returns the cache entry."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    version, compiler = source_version(), compiler_version()
    fragment = FRAGMENT.read_bytes()
    sources = {path.name: path.read_bytes() for path in INIT_SOURCES}
    kkey = kernel_key(fragment, version, compiler)
    final = root / image_key(kkey, sources)
    # A cache entry that exists is whole (it is renamed into place complete): found without the
    # lock, so a build of other inputs elsewhere does not hold up every run that has its image.
    # Else one builder at a time per cache: a second one waits and then finds the entry done.
    if not final.is_dir():
        with (root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not final.is_dir():
                source = extracted_source(root, version, quiet)
                kernel = build_kernel(root, source, kkey, fragment, version, quiet)
                temp = Path(tempfile.mkdtemp(prefix=".image-", dir=root))
                try:
                    build_initramfs(source, temp, sources, quiet)
                    for name in ("Image", "config", *SYMBOL_FILES):
                        shutil.copy2(kernel / name, temp / name)
                    (temp / "inputs.txt").write_text(f"{SOURCE_PACKAGE} {version}\n{compiler}\nkernel {kkey}\n")
                except BaseException:
                    shutil.rmtree(temp, ignore_errors=True)
                    raise
                publish(temp, final)
    point_out_link(final)
    return final


def main() -> int:
    """Command line: build, print the cache entry."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    args = parser.parse_args()
    try:
        entry = build(quiet=args.quiet)
    except BuildError as exc:
        print(f"images/linux/build.py: {exc}", file=sys.stderr)
        return 1
    print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
