"""The autopsy's backends: how each target kind's harts are read.

When the console goes silent, ``take`` opens the target's backend and samples every hart.

Layer: probes. May import: base, engine, autopsy, model, lab, ssh, power, targets.
"""
