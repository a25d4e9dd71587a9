"""Tests of harness/probes/ (one module per library module where it has logic)."""
