"""Root wiring of the hartbeat pytest plugin.

Installed with pip, the plugin loads through its ``pytest11`` entry point; from a bare source
checkout it is loaded from here, so ``pytest testplans/ --board qemu-virt`` works either way.
"""

from importlib.metadata import entry_points

_installed = any(ep.name == "hartbeat" for ep in entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["harness.pytest_plugin"]
