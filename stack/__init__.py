"""Local infrastructure launchers (embedded Temporal dev server and PostgreSQL)."""
