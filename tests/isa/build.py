"""Build the ISA test programs of ``tests/isa`` into ELF files.

Every ``tests/isa/*.S`` is one program; each is linked with the shared runtime in
``tests/isa/lib``. The binaries are build products: the tests build them into a temporary
folder and they are never committed. Run as a script to build them by hand::

    python tests/isa/build.py [--out build/isa] [NAME ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ISA_DIR = Path(__file__).resolve().parent
LIB_DIR = ISA_DIR / "lib"
REPO_ROOT = ISA_DIR.parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "isa"

CC = "riscv64-unknown-elf-gcc"
CFLAGS = (
    "-march=rv64imafdc_zicsr_zifencei",
    "-mabi=lp64d",
    "-mcmodel=medany",
    "-nostdlib",
    "-nostartfiles",
    "-static",
    # Relaxation could turn the programs' explicit instruction choices into other ones.
    "-Wl,--no-relax",
    "-Wl,--build-id=none",
)


class ToolchainMissing(RuntimeError):
    """The RISC-V cross compiler is not installed, so nothing can be built."""


@dataclass(frozen=True)
class Program:
    """One test program: its name (the file stem) and its source file."""

    name: str
    source: Path


def programs() -> list[Program]:
    """Return every test program in ``tests/isa``, sorted by name."""
    return [Program(p.stem, p) for p in sorted(ISA_DIR.glob("*.S"))]


def compiler() -> str:
    """Return the path of the cross compiler, or raise :class:`ToolchainMissing`."""
    path = shutil.which(CC)
    if path is None:
        raise ToolchainMissing(f"{CC} not found on PATH (Debian: apt-get install gcc-riscv64-unknown-elf)")
    return path


def build_program(program: Program, out_dir: Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile and link one program into ``out_dir/<name>.elf`` and return that path.

    Raises :class:`subprocess.CalledProcessError` with the compiler's output when the
    source does not build, so a broken program fails loudly rather than being skipped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / f"{program.name}.elf"
    cmd = [
        compiler(),
        *CFLAGS,
        *extra_flags,
        f"-I{LIB_DIR}",
        "-T",
        str(LIB_DIR / "link.ld"),
        "-o",
        str(elf),
        str(LIB_DIR / "runtime.S"),
        str(program.source),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return elf


def build_all(out_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Build every program (or those named) and return a map from name to ELF path."""
    selected = programs()
    if names:
        unknown = set(names) - {p.name for p in selected}
        if unknown:
            raise ValueError(f"no such ISA program(s): {', '.join(sorted(unknown))}")
        selected = [p for p in selected if p.name in names]
    return {p.name: build_program(p, out_dir) for p in selected}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: build the programs and print where each ELF went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("names", nargs="*", help="programs to build (default: all)")
    args = parser.parse_args(argv)
    try:
        built = build_all(args.out, args.names)
    except ToolchainMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 125
    except subprocess.CalledProcessError as exc:
        print(exc.stderr, file=sys.stderr)
        return 1
    for elf in built.values():
        print(elf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
