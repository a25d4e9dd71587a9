"""Tests of harness/pytest_plugin/ (one module per library module where it has logic)."""
