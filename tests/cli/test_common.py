"""The options the commands share (harness/cli/common.py): plan, board, images, --set, --var, --no-fallback."""

from __future__ import annotations

import argparse

import pytest

from harness.cli.common import EXIT_USAGE, add_override_options, add_target_options


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hartbeat run", exit_on_error=False)
    add_target_options(parser)
    return parser


def test_every_option_is_repeatable_and_kept_in_order() -> None:
    args = parser().parse_args(
        ["smoke", "-b", "qemu-virt", "--image", "kernel=a/Image", "--image", "initrd=b.cpio",
         "--set", "qemu.smp=2", "--set", "qemu.memory=2G", "--var", "build=r1", "--var", "seed=7"]
    )  # fmt: skip
    assert (args.plan, args.board, args.no_fallback) == ("smoke", "qemu-virt", False)
    assert args.images == ["kernel=a/Image", "initrd=b.cpio"]
    assert args.overrides == ["qemu.smp=2", "qemu.memory=2G"]
    assert args.variables == ["build=r1", "seed=7"]


def test_nothing_given_is_empty_lists_not_none() -> None:
    args = parser().parse_args(["smoke", "--board", "b", "--no-fallback"])
    assert (args.images, args.overrides, args.variables, args.no_fallback) == ([], [], [], True)


def test_the_board_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        argparse_parser = argparse.ArgumentParser(prog="hartbeat check")
        add_target_options(argparse_parser)
        argparse_parser.parse_args(["smoke"])
    assert exit.value.code == EXIT_USAGE == 2
    assert "--board/-b" in capsys.readouterr().err


def test_override_options_alone() -> None:
    alone = argparse.ArgumentParser()
    add_override_options(alone)
    args = alone.parse_args(["--set", "serial.port=/dev/ttyUSB2"])
    assert (args.overrides, args.variables) == (["serial.port=/dev/ttyUSB2"], [])
