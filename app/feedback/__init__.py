"""Feedback on inferences and episodes (SPEC §2.2): validation against metrics, recording."""
