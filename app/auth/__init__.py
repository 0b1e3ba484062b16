"""API keys: generation, hashing, the in-memory key cache, scopes and rate limits."""
