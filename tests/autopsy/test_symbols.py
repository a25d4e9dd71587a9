"""Symbol files: function+offset and file:line from an ELF with DWARF, image+offset when stripped,
System.map, bad files left out with a reason, and which files a run's image slots bring."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.autopsy.model import Privilege
from harness.autopsy.symbols import Symbols, SymbolSource, companions, run_sources

CC = "riscv64-unknown-elf-gcc"
SOURCE = """\
volatile int flag;

void wait_flag(void)
{
	while (!flag)
		;
}

void _start(void)
{
	wait_flag();
	for (;;)
		;
}
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny bare-metal program linked at 0x80000000, with DWARF line tables."""
    if shutil.which(CC) is None:
        pytest.skip(f"{CC} not installed")
    folder = tmp_path_factory.mktemp("symbols")
    (folder / "spin.c").write_text(SOURCE)
    out = folder / "spin.elf"
    subprocess.run(
        [CC, "-g", "-O1", "-march=rv64imac", "-mabi=lp64", "-mcmodel=medany", "-nostdlib", "-static",
         "-Wl,-Ttext=0x80000000", "-o", str(out), str(folder / "spin.c")],
        check=True, cwd=folder,
    )  # fmt: skip
    return out


def nm(elf: Path) -> dict[str, int]:
    text = subprocess.run(["riscv64-unknown-elf-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in (line.split() for line in text.splitlines()) if len(parts) == 3}


def loaded(*sources: SymbolSource) -> Symbols:
    symbols = Symbols(sources)
    symbols.load()
    return symbols


def test_an_elf_names_function_offset_and_source_line(elf: Path) -> None:
    address = nm(elf)["wait_flag"]
    where = loaded(SymbolSource("kernel", elf)).locate(address + 2, Privilege.M)
    assert where is not None
    assert (where.image, where.function, where.offset, where.file) == ("spin.elf", "wait_flag", 2, "spin.c")
    assert where.line in (5, 6) and where.code
    assert str(where) == f"wait_flag+0x2 (spin.c:{where.line})" and where.short == f"wait_flag (spin.c:{where.line})"


def test_an_address_outside_every_file_is_not_named(elf: Path) -> None:
    assert loaded(SymbolSource("kernel", elf)).locate(0x10000, Privilege.U) is None


def test_a_stripped_elf_names_the_image_and_the_offset(elf: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "fw.elf"
    subprocess.run(["riscv64-unknown-elf-objcopy", "--strip-all", str(elf), str(stripped)], check=True)
    where = loaded(SymbolSource("bios", stripped)).locate(0x80000010, Privilege.M)
    assert where is not None and where.function is None and str(where) == "fw.elf+0x10"


def test_a_system_map_names_functions(elf: Path, tmp_path: Path) -> None:
    names = nm(elf)
    system_map = tmp_path / "System.map"
    system_map.write_text(
        "".join(f"{address:016x} T {name}\n" for name, address in sorted(names.items(), key=lambda i: i[1]))
    )
    where = loaded(SymbolSource("kernel", system_map)).locate(names["_start"] + 4, Privilege.S)
    assert where is not None and where.function == "_start" and where.offset == 4 and where.file is None


def test_bad_files_are_left_out_with_their_reason(elf: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.elf"
    truncated.write_bytes(elf.read_bytes()[:80])
    garbage = tmp_path / "garbage.map"
    garbage.write_text("this is not\na symbol map at all\n")
    symbols = loaded(
        SymbolSource("a", truncated), SymbolSource("b", garbage), SymbolSource("c", tmp_path / "missing"),
        SymbolSource("kernel", elf),
    )  # fmt: skip
    problems = symbols.problems()
    assert len(problems) == 3
    assert problems[0].startswith(f"symbols a: {truncated}: not a usable ELF file")
    assert problems[1].startswith(f"symbols b: {garbage}:1: not a System.map line")
    assert "cannot be read" in problems[2]
    # The good file still names its addresses.
    assert symbols.locate(nm(elf)["wait_flag"], Privilege.M) is not None


def test_image_slots_bring_the_symbol_files_built_beside_them(elf: Path, tmp_path: Path) -> None:
    firmware = tmp_path / "fw_jump.bin"
    firmware.write_bytes(b"\0" * 16)
    shutil.copy(elf, tmp_path / "fw_jump.elf")
    linux = tmp_path / "linux"
    linux.mkdir()
    (linux / "Image").write_bytes(b"MZ")
    (linux / "System.map").write_text("ffffffff80000000 T _start\n")
    assert companions("bios", firmware) == [SymbolSource("bios", tmp_path / "fw_jump.elf")]
    assert companions("kernel", linux / "Image") == [SymbolSource("kernel", linux / "System.map")]
    (linux / "vmlinux").write_bytes(elf.read_bytes())
    assert companions("kernel", linux / "Image") == [SymbolSource("kernel", linux / "vmlinux")]
    assert companions("kernel", elf) == [SymbolSource("kernel", elf)]
    # Only a kernel image brings the kernel's files: the initramfs beside it does not.
    (linux / "initramfs.cpio").write_bytes(b"070701")
    assert companions("initrd", linux / "initramfs.cpio") == []
    # [symbols] or --symbols for a slot replace what the slot brings.
    given = tmp_path / "opensbi-unstripped.elf"
    sources = run_sources({"bios": firmware, "kernel": elf}, [("bios", given), ("again", elf)])
    assert sources == [SymbolSource("bios", given), SymbolSource("again", elf)]  # one file is read once


def test_a_file_whose_code_is_not_in_memory_is_dropped(elf: Path) -> None:
    address = nm(elf)["wait_flag"]
    symbols = loaded(SymbolSource("kernel", elf))
    image = symbols._tables[0]

    # The same build: memory holds the file's code (a few words patched, as a kernel does).
    def same(start: int, size: int) -> bytes | None:
        window = image.window(address, 64)
        assert window is not None and window[0] == start
        data = bytearray(window[1])
        data[0:4] = b"\x13\x00\x00\x00"
        return bytes(data)

    symbols.verify(address, same)
    assert symbols.locate(address, Privilege.M) is not None and symbols.problems() == ()
    # Another build: other code at that address.
    other = loaded(SymbolSource("kernel", elf))
    other.verify(address, lambda start, size: bytes(range(size)))
    assert other.locate(address, Privilege.M) is None
    assert other.problems()[0].startswith("symbols: spin.elf does not match the code in memory at")
