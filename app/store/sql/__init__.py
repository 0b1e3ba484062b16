"""The SQL config store: config versions, API keys and the audit log (SQLAlchemy 2, async)."""
