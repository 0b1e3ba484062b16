"""Configuration: the TOML schema, loading ``variants/``, validation, and the compiled immutable
snapshot. The live, reloading config built on it is :mod:`app.runtime`."""
