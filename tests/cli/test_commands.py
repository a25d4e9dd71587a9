"""The command line loads only the command it runs; help and typos still see every command."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

import harness.cli
from harness.cli import COMMANDS, build_parser


def test_a_command_loads_only_its_own_module(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real = importlib.import_module

    def recording(name: str) -> ModuleType:
        loaded.append(name)
        return real(name)

    monkeypatch.setattr(harness.cli.importlib, "import_module", recording)
    build_parser(["run", "uboot-smoke", "--board", "qemu-virt"])
    assert loaded == ["harness.cli.run"]
    loaded.clear()
    build_parser(["plans"])
    assert loaded == ["harness.cli.lists"]


@pytest.mark.parametrize("argv", [[], ["--help"], ["bogus"]])
def test_without_a_known_command_every_command_is_there(argv: list[str]) -> None:
    usage = "".join(build_parser(argv).format_usage().split())
    assert "{" + ",".join(name for _module, names in COMMANDS for name in names) + "}" in usage


@pytest.mark.parametrize(("module", "names"), COMMANDS)
def test_each_command_parses_with_only_its_module(module: str, names: tuple[str, ...]) -> None:
    for name in names:
        parser = build_parser([name, "--help"])
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([name, "--help"])
        assert exited.value.code == 0
