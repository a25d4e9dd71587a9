"""Named mutants of the emulator (harness/emulator/mutants.py): each applies to a copy, never to
the shipped emulator (tests/linux/test_linux_mutants.py runs the seed's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.emulator.mutants import BY_NAME, MUTANTS, ROOT, Edit, Mutant, MutantError, make_copy


def test_every_mutant_applies_to_a_copy_and_leaves_the_shipped_emulator_alone(tmp_path: Path) -> None:
    assert len(MUTANTS) == len(BY_NAME) >= 11
    for mutant in MUTANTS:
        copy = make_copy(mutant, tmp_path / mutant.name)
        for edit in mutant.edits:
            shipped = (ROOT / edit.path).read_text()
            assert shipped.count(edit.old) == 1, (mutant.name, edit.path)
            mutated = (copy / edit.path).read_text()
            assert mutated != shipped and edit.new in mutated, (mutant.name, edit.path)


def test_a_mutant_that_no_longer_applies_is_an_error(tmp_path: Path) -> None:
    stale = Mutant("stale", "bug", "nowhere", (Edit("harness/emulator/cpu.py", "no such line\n", "x\n"),))
    with pytest.raises(MutantError, match=r"stale: harness/emulator/cpu.py: .* occurs 0 times"):
        make_copy(stale, tmp_path / "stale")
