"""ISA test programs and the differential test that runs them on QEMU and the emulator."""
