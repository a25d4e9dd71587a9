"""The Linux image build: cached by a hash of every input, never stale, complete when present."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

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


def test_the_fragment_check_reads_settings_not_comments_that_name_a_symbol(tmp_path: Path) -> None:
    build = _build_module()
    fragment = "# CONFIG_TTY above brings the BSD ptys (a comment)\nCONFIG_SMP=y\n# CONFIG_VT is not set\n"
    assert build.config_lines(fragment) == ["CONFIG_SMP=y", "# CONFIG_VT is not set"]
    config = tmp_path / ".config"
    config.write_text("CONFIG_SMP=y\n# CONFIG_VT is not set\n")
    build.check_config(fragment, config)
    # A setting Kconfig dropped is still named.
    config.write_text("CONFIG_SMP=y\nCONFIG_VT=y\n")
    with pytest.raises(build.BuildError, match="# CONFIG_VT is not set"):
        build.check_config(fragment, config)


def _keys(script: Path) -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location(f"hartbeat_linux_build_{script.parent.name}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kernel = module.kernel_key(b"CONFIG_SMP=y\n", "6.1.192-3", "gcc 12.2.0")
    return kernel, module.image_key(kernel, {"init.c": b"int main(void) { return 0; }"})


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    folder = tmp_path / name
    folder.mkdir()
    (folder / "build.py").write_text(text.replace(old, new), encoding="utf-8")
    return folder / "build.py"


def test_the_cache_key_is_its_inputs_and_recipe_not_the_script_bytes(tmp_path: Path) -> None:
    """Editing build.py outside the recipe (the command line, publishing, a comment) keeps the
    cached kernel; editing how the kernel or the initramfs is built does not."""
    base = _keys(BUILD_SCRIPT)
    # Stable: the same in a copy elsewhere and in another interpreter (no path, no hash seed).
    assert _keys(_edited(tmp_path, "copy", "def main() -> int:", "def main() -> int:")) == base
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import runpy; m = runpy.run_path({str(BUILD_SCRIPT)!r}); "
            "print(m['kernel_key'](b'CONFIG_SMP=y\\n', '6.1.192-3', 'gcc 12.2.0'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == base[0]
    outside = _edited(
        tmp_path, "outside", "    print(entry)\n    return 0\n", "    print(entry)  # edited\n    return 0\n"
    )
    assert _keys(outside) == base
    kernel = _edited(tmp_path, "kernel", '"KBUILD_BUILD_USER=hartbeat"', '"KBUILD_BUILD_USER=someone"')
    assert _keys(kernel)[0] != base[0]
    image = _edited(tmp_path, "image", '"-O2", "-Wall"', '"-Os", "-Wall"')
    changed = _keys(image)
    assert changed[0] == base[0] and changed[1] != base[1]


def test_a_cached_image_is_found_while_another_build_holds_the_cache_lock(tmp_path: Path) -> None:
    """A build of other inputs (another branch's kernel) must not hold up a run whose image is cached."""
    scripts = tmp_path / "images"
    (scripts / "linux").mkdir(parents=True)
    shutil.copy2(BUILD_SCRIPT.parent.parent / "image_cache.py", scripts / "image_cache.py")
    for name in ("build.py", "kernel.config", "init.c", "hbtest.c"):
        shutil.copy2(BUILD_SCRIPT.parent / name, scripts / "linux" / name)
    build = _build_module()
    if shutil.which(f"{build.CROSS}gcc") is None or not build.TARBALL.is_file():
        pytest.skip("the key needs the cross compiler's and the kernel source's versions (make deps)")
    fragment = build.FRAGMENT.read_bytes()
    sources = {path.name: path.read_bytes() for path in build.INIT_SOURCES}
    kernel = build.kernel_key(fragment, build.source_version(), build.compiler_version())
    cache = tmp_path / "cache" / "hartbeat" / "linux"
    entry = cache / build.image_key(kernel, sources)
    entry.mkdir(parents=True)
    with (cache / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = subprocess.run(
            [sys.executable, str(scripts / "linux" / "build.py"), "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        )
    assert Path(found.stdout.strip()) == entry
    assert (scripts / "linux" / "out").resolve() == entry.resolve()


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
