"""Runs looked at again: replayed on their own time, calibrated into deadlines, compared side by side.

Layer: analysis. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes,
records, run.
"""
