"""What a run leaves behind: its results, report.json, junit.xml, report.html, and the run folder read back.

Layer: records. May import: base, engine, autopsy, model, lab, ssh, power, targets, probes.
"""
