"""Tests of harness/run/ (one module per library module where it has logic)."""
