"""Backend providers behind one small interface (:class:`app.providers.base.Provider`)."""
