"""Which function, variant and provider routes serve a request (README.md "Model names",
docs/experiments.md)."""
