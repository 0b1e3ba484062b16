"""Datasets built from the inference log, and their exports (docs/evaluations.md)."""
