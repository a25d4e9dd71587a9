"""What the command tests share: ``hartbeat`` run in process through its entry point, its exit
code and output, and what a refused command line must look like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.cli import main


@dataclass(frozen=True)
class Ran:
    """One ``hartbeat`` command line's exit code, stdout and stderr."""

    code: int | str | None
    out: str
    err: str

    def refused(self, *words: str) -> str:
        """The error line of a refused command line, checked: exit 2, nothing on stdout, no
        traceback, and one line saying what was wrong (holding each of ``words``)."""
        assert self.code == 2, self
        assert self.out == "", self
        assert "Traceback" not in self.err, self.err
        # argparse prints its usage first; the harness's own errors are the one line alone.
        errors = [line for line in self.err.splitlines() if "error: " in line]
        assert len(errors) == 1, self.err
        for word in words:
            assert word in errors[0], (word, errors[0])
        return errors[0]

    def help_lists(self, *options: str) -> None:
        """``--help`` exited 0 and its text names each of ``options``."""
        assert self.code == 0, self
        text = " ".join(self.out.split())
        for option in options:
            assert option in text, (option, self.out)


@pytest.fixture
def hartbeat(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``hartbeat ARGS...`` through :func:`harness.cli.main`, the console script's entry point."""

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            code: int | str | None = main(list(argv))
        except SystemExit as exited:  # argparse: --help (0) and a bad command line (2)
            code = exited.code
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
