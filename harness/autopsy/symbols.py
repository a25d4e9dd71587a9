"""Addresses to names: ELF symbol tables, DWARF line tables (pyelftools) and System.map files.

A run's symbol files come from its image slots (an ELF slot as it is; beside a raw ``.bin`` its
``.elf``; beside a Linux ``Image`` its ``vmlinux`` and ``System.map``), from ``[symbols]`` in the
board and the plan, and from ``--symbols SLOT=PATH``. Each file covers the addresses it was
linked at, so the firmware (physical, M-mode), a bare-metal image and Linux (virtual, S-mode)
never overlap; a stripped ELF still names its image and the offset into it.

Nothing here raises on a bad file: it is left out and :meth:`Symbols.problems` says why.
"""

from __future__ import annotations

import bisect
import io
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.autopsy.model import Location, Privilege

ELF_MAGIC = b"\x7fELF"
PF_X = 1  # an executable segment (p_flags)
SHF_ALLOC = 2  # a section loaded into memory (sh_flags)
SHF_EXECINSTR = 4  # an executable section
# DWARF line tables larger than this are not decoded (a full vmlinux's takes minutes in Python):
# its functions are still named from the symbol table.
MAX_LINE_TABLE = 8 << 20
# Bytes of code compared with memory around a pc, to tell a file of another build.
VERIFY_BYTES = 64
# Linux kernel image names, beside which the build keeps vmlinux and System.map.
KERNEL_IMAGES = ("Image", "zImage", "bzImage", "vmlinuz", "uImage")
# System.map letters that are code (text, weak) as opposed to data.
MAP_CODE = set("tTwW")


@dataclass(frozen=True)
class SymbolSource:
    """One symbol file of a run: a label (an image slot, or a ``[symbols]`` key) and its path."""

    label: str
    path: Path


@dataclass(frozen=True)
class _Table:
    """One loaded file: sorted function starts, their ends, and the address ranges it covers."""

    name: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    names: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]
    base: int
    lines: _LineIndex | None = None
    # The executable parts of ``ranges`` (all of them for a System.map, which lists code).
    code: tuple[tuple[int, int], ...] = ()
    # An ELF's file and its loaded segments' (address, bytes in the file, file offset), so its
    # code can be compared with memory; none for a System.map.
    path: Path | None = None
    segments: tuple[tuple[int, int, int], ...] = ()

    def window(self, address: int, size: int) -> tuple[int, bytes] | None:
        """Up to ``size`` bytes the file loads around ``address`` (within its segment), and where
        they start; ``None`` when the address is not in the file or it cannot be read."""
        for start, length, offset in self.segments:
            if self.path is not None and start <= address < start + length:
                low = max(start, (address & ~1) - size // 2)
                high = min(start + length, low + size)
                try:
                    with self.path.open("rb") as stream:
                        stream.seek(offset + low - start)
                        return low, stream.read(high - low)
                except OSError:
                    return None
        return None

    def covers(self, address: int) -> bool:
        return any(low <= address < high for low, high in self.ranges)

    def locate(self, address: int) -> Location:
        index = bisect.bisect_right(self.starts, address) - 1
        file, line = self._line(address)
        code = any(low <= address < high for low, high in self.code)
        if index >= 0 and address < self.ends[index]:
            return Location(self.name, self.names[index], address - self.starts[index], file, line, code)
        return Location(self.name, None, address - self.base, code=code)

    def _line(self, address: int) -> tuple[str | None, int | None]:
        return (None, None) if self.lines is None else self.lines.lookup(address)


def _load_elf(name: str, path: Path) -> _Table:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    try:
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            loads = [seg for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_memsz"]]
            ranges = tuple((seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"]) for seg in loads)
            # Executable sections where the file has them (one RWX segment also holds the stacks),
            # else executable segments.
            code = tuple(
                (sec["sh_addr"], sec["sh_addr"] + sec["sh_size"])
                for sec in elf.iter_sections()
                if sec["sh_flags"] & SHF_EXECINSTR and sec["sh_size"] and sec["sh_addr"]
            ) or tuple((seg["p_vaddr"], seg["p_vaddr"] + seg["p_memsz"]) for seg in loads if seg["p_flags"] & PF_X)
            # An image's offsets count from its first allocated section (a segment may start at the
            # ELF headers, a page before), as they would in the same image as a raw .bin.
            allocated = [
                sec["sh_addr"] for sec in elf.iter_sections() if sec["sh_flags"] & SHF_ALLOC and sec["sh_addr"]
            ]
            if not ranges:
                raise ValueError("it has no loadable segment")
            symtab = elf.get_section_by_name(".symtab")
            functions = _functions(elf, symtab) if isinstance(symtab, SymbolTableSection) else {}
            section = elf.get_section_by_name(".debug_line")
            lines = None
            if section is not None and section["sh_size"] <= MAX_LINE_TABLE:
                lines = _LineIndex(path.read_bytes())
    except (OSError, ELFError, ValueError, KeyError, IndexError, AssertionError) as exc:
        raise ValueError(f"{path}: not a usable ELF file: {exc}") from None
    table = _table(name, functions, ranges, lines, code, min(allocated, default=None))
    segments = tuple((seg["p_vaddr"], seg["p_filesz"], seg["p_offset"]) for seg in loads if seg["p_filesz"])
    return replace(table, path=path, segments=segments)


# Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size.
_SYM64 = struct.Struct("<IBBHQQ")
STT_NOTYPE, STT_FUNC = 0, 2
SHN_UNDEF, SHN_LORESERVE = 0, 0xFF00


def _functions(elf: Any, symtab: Any) -> dict[int, tuple[int, str]]:
    """Code symbols: address -> (size, name); a sized function beats a label at its address.

    A 64-bit little-endian table (every RISC-V image here) is read with :mod:`struct` straight
    from the section: pyelftools' per-symbol parsing took 1.5 s over the tiny Linux's vmlinux.
    """
    functions: dict[int, tuple[int, str]] = {}
    if elf.elfclass == 64 and elf.little_endian and symtab["sh_entsize"] == _SYM64.size:
        strings = elf.get_section(symtab["sh_link"]).data()
        entries = (
            (value, size, info & 0xF, shndx, name)
            for name, info, _other, shndx, value, size in _SYM64.iter_unpack(symtab.data())
        )
        symbols = (
            (value, size, kind, strings[name : strings.index(b"\0", name)].decode(errors="replace"))
            for value, size, kind, shndx, name in entries
            if kind in (STT_NOTYPE, STT_FUNC) and SHN_UNDEF < shndx < SHN_LORESERVE and name
        )
    else:
        symbols = (
            (
                sym["st_value"],
                sym["st_size"],
                STT_FUNC if sym["st_info"]["type"] == "STT_FUNC" else STT_NOTYPE,
                sym.name,
            )
            for sym in symtab.iter_symbols()
            if sym["st_info"]["type"] in ("STT_FUNC", "STT_NOTYPE")
            and sym["st_shndx"] not in ("SHN_UNDEF", "SHN_ABS", "SHN_COMMON")
            and sym.name
        )
    for address, size, kind, name in symbols:
        if name.startswith((".L", "$")):
            continue
        if address not in functions or (kind == STT_FUNC and functions[address][0] == 0):
            functions[address] = (size, name)
    return functions


class _LineIndex:
    """DWARF line rows, decoded one compilation unit at a time: the one ``.debug_aranges`` says
    an address lies in (every unit at once when the file has no aranges). Decoding all of a
    small image's line programs took most of a second on a loaded host; one unit takes 30 ms."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._dwarf: Any = None
        self._aranges: Any = None
        self._rows: dict[int | None, list[tuple[int, str, int]]] = {}
        self._lock = threading.Lock()

    def lookup(self, address: int) -> tuple[str | None, int | None]:
        """``(file, line)`` of ``address``, or ``(None, None)`` (no row, or DWARF it cannot read)."""
        with self._lock:
            try:
                rows = self._unit_rows(address)
            except Exception:  # malformed DWARF raises DWARFError, ELFError, construct's errors...
                return None, None
        index = bisect.bisect_right(rows, (address, "\uffff", 1 << 62)) - 1
        if index < 0:
            return None, None
        row_address, file, line = rows[index]
        # A row covers its address up to the next row's; past a gap of 4 KiB it is not this row.
        if address - row_address > 0x1000:
            return None, None
        return file, line

    def _unit_rows(self, address: int) -> list[tuple[int, str, int]]:
        if self._dwarf is None:
            from elftools.elf.elffile import ELFFile

            self._dwarf = ELFFile(io.BytesIO(self._data)).get_dwarf_info()
            self._aranges = self._dwarf.get_aranges()
        offset = None if self._aranges is None else self._aranges.cu_offset_at_addr(address)
        if offset not in self._rows:
            units = self._dwarf.iter_CUs() if offset is None else [self._dwarf.get_CU_at(offset)]
            self._rows[offset] = sorted(row for unit in units for row in _unit_lines(self._dwarf, unit))
        return self._rows[offset]


def _unit_lines(dwarf: Any, unit: Any) -> list[tuple[int, str, int]]:
    """The (address, file, line) rows of one compilation unit's line program."""
    program = dwarf.line_program_for_CU(unit)
    if program is None:
        return []
    header = program.header
    files = header["file_entry"]
    # DWARF 5 numbers files from 0, earlier versions from 1.
    first = 0 if header["version"] >= 5 else 1
    rows = []
    for entry in program.get_entries():
        state = entry.state
        if state is None or state.end_sequence:
            continue
        index = state.file - first
        file = files[index].name.decode(errors="replace") if 0 <= index < len(files) else "?"
        rows.append((state.address, Path(file).name, state.line))
    return rows


def _load_map(name: str, path: Path) -> _Table:
    functions: dict[int, tuple[int, str]] = {}
    everything: list[int] = []
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            address = int(parts[0], 16)
        except ValueError:
            raise ValueError(f"{path}:{number}: not a System.map line: {line[:60]!r}") from None
        everything.append(address)
        if parts[1] in MAP_CODE:
            functions.setdefault(address, (0, parts[2]))
    if not functions:
        raise ValueError(f"{path}: no code symbols (is it a System.map?)")
    # Code ends at the last code symbol (Linux's _etext); data symbols follow it.
    first = min(functions)
    return _table(name, functions, ((first, max(everything) + 1),), None, ((first, max(functions) + 1),))


def _table(
    name: str,
    functions: Mapping[int, tuple[int, str]],
    ranges: tuple[tuple[int, int], ...],
    lines: _LineIndex | None,
    code: tuple[tuple[int, int], ...],
    base: int | None = None,
) -> _Table:
    starts = sorted(functions)
    ends = []
    limit = max(high for _, high in ranges)
    for index, start in enumerate(starts):
        size = functions[start][0]
        following = starts[index + 1] if index + 1 < len(starts) else limit
        # A sized function ends at its size; a label (System.map, assembly) at the next symbol.
        ends.append(start + size if size else following)
    return _Table(
        name=name,
        starts=tuple(starts),
        ends=tuple(ends),
        names=tuple(functions[s][1] for s in starts),
        ranges=ranges,
        base=min(low for low, _ in ranges) if base is None else base,
        lines=lines,
        code=code,
    )


def load_file(name: str, path: Path) -> _Table:
    """One symbol file (ELF or System.map); ``ValueError`` with a one-line reason when unusable."""
    try:
        with path.open("rb") as stream:
            magic = stream.read(4)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    return _load_elf(name, path) if magic == ELF_MAGIC else _load_map(name, path)


class Symbols:
    """The symbol files of a run, loaded once (:meth:`load`, thread-safe) and asked by address."""

    def __init__(self, sources: Sequence[SymbolSource]) -> None:
        self.sources = tuple(sources)
        self._tables: list[_Table] = []
        self._problems: list[str] = []
        self._loaded = False
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def load(self) -> None:
        """Read every file; a bad one is left out with its reason in :meth:`problems`."""
        with self._lock:
            if self._loaded:
                return
            for source in self.sources:
                try:
                    self._tables.append(load_file(source.path.name, source.path))
                except ValueError as exc:
                    self._problems.append(f"symbols {source.label}: {exc}")
                except Exception as exc:  # pyelftools on a malformed file raises more than ELFError
                    self._problems.append(f"symbols {source.label}: {source.path}: unreadable: {type(exc).__name__}")
            self._loaded = True

    def locate(self, address: int, mode: Privilege) -> Location | None:
        """Where ``address`` lies: the first file (in source order) that covers it."""
        del mode  # the files' own address ranges separate firmware, bare-metal code and Linux
        if not self._loaded:
            return None
        for table in self._tables:
            if table.covers(address):
                return table.locate(address)
        return None

    def verify(self, address: int, read: Callable[[int, int], bytes | None]) -> None:
        """Compare the code around ``address`` in the file that covers it with memory (``read``);
        a file whose code is not what runs there (another build) is dropped, with the reason.

        Once per file. Half the 16-bit words may differ: a kernel patches some of its code as it
        boots (alternatives, jump labels), a different build differs nearly everywhere.
        """
        table = next((t for t in self._tables if t.covers(address)), None)
        if table is None or table.name in self._verified:
            return
        self._verified.add(table.name)
        window = table.window(address, VERIFY_BYTES)
        if window is None or len(window[1]) < 4:
            return
        start, expected = window
        actual = read(start, len(expected))
        if actual is None or len(actual) != len(expected):
            return
        words = len(expected) // 2
        same = sum(expected[i : i + 2] == actual[i : i + 2] for i in range(0, 2 * words, 2))
        if same * 2 < words:
            self.drop(
                table.name,
                f"symbols: {table.name} does not match the code in memory at {address:#x} "
                f"({same} of {words} words agree): its names are not used",
            )

    def problems(self) -> tuple[str, ...]:
        """Files left out, one line each."""
        return tuple(self._problems)

    def names(self) -> tuple[str, ...]:
        """``label=path`` of every source."""
        return tuple(f"{s.label}={s.path}" for s in self.sources)

    def drop(self, name: str, why: str) -> None:
        """Stop using the file called ``name`` (it does not match memory), saying why."""
        self._tables = [t for t in self._tables if t.name != name]
        self._problems.append(why)


def companions(slot: str, path: Path) -> list[SymbolSource]:
    """The symbol files an image slot brings: itself if ELF, else the files built beside it."""
    try:
        with path.open("rb") as stream:
            if stream.read(4) == ELF_MAGIC:
                return [SymbolSource(slot, path)]
    except OSError:
        return []
    found: list[SymbolSource] = []
    candidates = [path.with_suffix(".elf")]
    if path.name.startswith(KERNEL_IMAGES):
        candidates += [path.parent / "vmlinux", path.parent / "System.map"]
    for candidate in candidates:
        if candidate != path and candidate.is_file():
            found.append(SymbolSource(slot if not found else f"{slot}:{candidate.name}", candidate))
            if candidate.name == "vmlinux":
                break  # vmlinux has every symbol System.map has, and line numbers
    return found


def run_sources(images: Mapping[str, Path], given: Iterable[tuple[str, Path]]) -> list[SymbolSource]:
    """A run's symbol files: ``given`` (``[symbols]``, ``--symbols``, later ones win) replace the
    files an image slot of the same name would bring; the other slots bring their own."""
    chosen: dict[str, Path] = {}
    for label, path in given:
        chosen[label] = path
    sources = [SymbolSource(label, path) for label, path in chosen.items()]
    for slot, path in images.items():
        if slot not in chosen:
            sources += companions(slot, path)
    # One file named twice (a slot and [symbols]) is read once.
    unique: dict[Path, SymbolSource] = {}
    for source in sources:
        unique.setdefault(source.path.resolve(), source)
    return list(unique.values())
