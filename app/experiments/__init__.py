"""Experiments: campaign results and their statistics (docs/experiments.md)."""
