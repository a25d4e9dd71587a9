"""The console engine: bytes in, lines matched, silence timed, a verdict out.

Pure of targets and files the user writes: it is driven by the runner and by replay alike.

Layer: engine. May import: base.
"""
