"""RISC-V debug support for the emulator (External Debug Support 0.13.2).

* ``hart``: per-hart debug state (dcsr, dpc, dscratch, triggers), entering and leaving debug
  mode, and the careful stepper a hart runs on while a trigger is armed or it single-steps;
* ``csrs``: the debug and trigger CSRs in the CSR table;
* ``dm``: the Debug Module behind the DMI (run control, abstract commands, program buffer,
  system bus access);
* ``jtag``: a JTAG TAP with the debug transport module (IDCODE, DTMCS, DMI);
* ``rbb``: OpenOCD's remote_bitbang protocol on a loopback TCP port or a unix socket.

Nothing here runs unless asked: harts test one attribute per quantum (``halted``,
``stepper``), the machine polls the JTAG server only when ``-jtag`` is given.
"""
