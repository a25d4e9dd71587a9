"""A run: load the board, check before boot, power on, watch milestone by milestone, decide, write the records.

Layer: run. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes, records.
"""
