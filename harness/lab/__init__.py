"""The lab's shared resources: one run per board (file locks) and labgrid places.

Below the power backends and the targets, which both take a place or a lock.

Layer: lab. May import: base, engine, autopsy, model.
"""
