"""Tests of harness/records/ (one module per library module where it has logic)."""
