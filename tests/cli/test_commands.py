"""The command line loads only the command it runs; help and typos still see every command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.cli import COMMANDS, build_parser


def _loaded(argv: list[str]) -> set[str]:
    """The harness packages a fresh interpreter has imported after building the parser for ``argv``."""
    code = (
        "import sys\nfrom harness.cli import build_parser\n"
        f"build_parser({argv!r})\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules if m.startswith('harness.')})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


def test_a_run_does_not_import_bisect_or_replay() -> None:
    loaded = _loaded(["run", "uboot-smoke", "--board", "qemu-virt"])
    assert "run" in loaded and "records" in loaded
    assert "bisect" not in loaded and "analysis" not in loaded


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
