"""The Linux image build: cached by a hash of every input, never stale, complete when present."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from harness.targets.linux_boot import is_linux_image

from .conftest import BUILD_SCRIPT


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hartbeat_linux_build", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cpio_names(data: bytes) -> list[str]:
    """File names of a newc cpio archive (what gen_init_cpio writes)."""
    names, offset = [], 0
    while offset < len(data):
        header = data[offset : offset + 110]
        assert header[:6] == b"070701", header[:6]
        size, namesize = int(header[54:62], 16), int(header[94:102], 16)
        name = data[offset + 110 : offset + 110 + namesize - 1].decode()
        if name == "TRAILER!!!":
            break
        names.append(name)
        offset = (offset + 110 + namesize + 3) & ~3
        offset = (offset + size + 3) & ~3
    return names


def test_every_input_changes_the_cache_key() -> None:
    build = _build_module()
    sources = {"init.c": b"int main(void) { return 0; }", "hbtest.c": b"x"}
    base = build.kernel_key(b"CONFIG_SMP=y\n", "6.1.192-3", "gcc 12.2.0")
    assert build.kernel_key(b"CONFIG_SMP=n\n", "6.1.192-3", "gcc 12.2.0") != base
    assert build.kernel_key(b"CONFIG_SMP=y\n", "6.1.193-1", "gcc 12.2.0") != base
    assert build.kernel_key(b"CONFIG_SMP=y\n", "6.1.192-3", "gcc 13.1.0") != base
    image = build.image_key(base, sources)
    assert build.image_key(base, {**sources, "init.c": b"int main(void) { return 1; }"}) != image
    assert build.image_key("another kernel", sources) != image
    assert build.image_key(base, dict(sources)) == image


def test_the_image_is_a_kernel_and_an_initramfs_with_our_init(linux_image: Path) -> None:
    assert is_linux_image(linux_image / "Image")
    names = _cpio_names((linux_image / "initramfs.cpio").read_bytes())
    assert {"init", "bin/hbtest", "dev/console"} <= set(names), names
    config = (linux_image / "config").read_text()
    assert "# CONFIG_EFI is not set" in config and "CONFIG_SERIAL_SIFIVE=y" in config
    assert (BUILD_SCRIPT.parent / "out").resolve() == linux_image.resolve()


def test_a_second_build_is_a_cache_hit(linux_image: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--quiet"], capture_output=True, text=True, check=True)
    assert Path(proc.stdout.strip()) == linux_image
    assert time.monotonic() - started < 30
