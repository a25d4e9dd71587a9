"""Runs looked at again: replayed on their own time, calibrated into deadlines, compared side by side.
"""
