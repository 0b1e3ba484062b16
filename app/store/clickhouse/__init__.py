"""The inference log in ClickHouse (SPEC §5.1-5.2): schema migrations, the background writer
with its spill files, and read-only queries. See docs/analytics.md."""
