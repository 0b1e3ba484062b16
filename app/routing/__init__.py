"""Which function, variant and provider routes serve a request (SPEC §2.1 and §4)."""
