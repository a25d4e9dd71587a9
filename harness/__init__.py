"""hartbeat: a hardware-in-the-loop test harness for the SiFive HiFive Unmatched.

The library watches a console (serial board, QEMU, or the in-repo emulator), asserts boot
milestones in order, tells a silent wedge from a stall, a panic or a reset, and bisects hangs
across builds.

Layer: base. May import: nothing of harness (it holds the version and the exceptions).
"""

__version__ = "0.1.0"
