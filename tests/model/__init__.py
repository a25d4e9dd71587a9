"""Tests of harness/model/ (one module per library module where it has logic)."""
