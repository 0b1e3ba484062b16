"""The inference log in ClickHouse (see docs/analytics.md): schema migrations, the background
writer with its spill files, and read-only queries."""
