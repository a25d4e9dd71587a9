"""The autopsy backends' registry (harness/probes/registry.py): one module and one line per target kind."""

from __future__ import annotations

import importlib

import pytest

from harness.probes.backend import AutopsyBackend, AutopsyUnavailable
from harness.probes.registry import BACKENDS, backend_for
from harness.targets import KINDS


@pytest.mark.slow  # imports every backend (labgrid, paramiko, the probes): about 1 s
def test_every_line_names_a_target_kind_and_a_module_with_its_backend() -> None:
    for kind, module in BACKENDS.items():
        assert kind in KINDS, kind
        backend = backend_for(kind)
        assert isinstance(backend, AutopsyBackend) and backend is importlib.import_module(module).BACKEND


def test_a_kind_without_a_backend_is_unavailable_naming_the_known_ones() -> None:
    with pytest.raises(AutopsyUnavailable) as error:
        backend_for("process")
    assert str(error.value) == "target kind 'process' has no autopsy backend (known: emulator, qemu, serial)"
