"""Tests of harness/analysis/ (one module per library module where it has logic)."""
