"""One module per console section; each exports its route handlers as ``HANDLERS``."""
