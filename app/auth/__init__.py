"""API keys and callers: generation, hashing, the in-memory key cache, the principal and its
access rules (principal.py), and rate limits. Imports nothing from app.api."""
