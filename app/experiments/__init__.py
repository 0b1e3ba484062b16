"""Experiments: campaign results and their statistics (SPEC §2.3)."""
