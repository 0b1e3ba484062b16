"""Storage: ClickHouse (inference log, feedback, analytics) and the SQL config store."""
