"""The store: the one DuckDB module and its migrations. It maps DuckDB's errors to the
project's own at this boundary, and imports only the kernel."""
