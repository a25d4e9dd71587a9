"""Tests of harness/engine/ (one module per library module where it has logic)."""
