"""Configuration: the TOML schema, loading from ``variants/``, validation and snapshots."""
