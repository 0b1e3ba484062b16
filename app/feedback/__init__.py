"""Feedback on inferences and episodes (docs/experiments.md, "Feedback"): validation against metrics, recording."""
