"""The model: testplans, board profiles and the images they name.

Read from TOML with errors that name the file and the key.

Layer: model. May import: base, engine, autopsy.
"""
