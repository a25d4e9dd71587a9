"""A run: load the board, check before boot, power on, watch milestone by milestone, decide, write the records.
"""
