"""A pure-Python RISC-V full-system emulator (RV64IMAFDC, M/S/U, Sv39) for hartbeat.

It models QEMU's ``virt`` machine and the HiFive Unmatched (FU740) memory map well enough to
boot Debian's OpenSBI and U-Boot. ``harness.emulator.machine.Machine`` runs it in-process;
``python -m harness.emulator`` takes QEMU-like options.

Layer: emulator. May import: base (it runs as its own process).
"""
