"""The one module that opens DuckDB: connections, migrations and transactions.

Everything else receives a ``Database`` and speaks SQL through it, so tests substitute a real
file here and nowhere else. duckdb errors are mapped to LoadError at this boundary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from safer.errors import LoadError

__all__ = [
    "Database",
    "DatabaseError",
    "connect",
    "connect_staging",
    "migrate",
    "reference_changed",
]

DatabaseError = duckdb.Error

_VALUES = re.compile(r"^(.*\bVALUES\s*)(\((?:\s*\?\s*,)*\s*\?\s*\))\s*$", re.IGNORECASE | re.DOTALL)
_CHUNK = 250


class Database:
    """A DuckDB connection with the project's schema applied."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self._con = connection
        self.path = path

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Database:
        self._con.execute(sql, params)
        return self

    def rows(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, params).fetchall()

    def dicts(self, sql: str, params: Sequence[object] | None = None) -> list[dict[str, Any]]:
        cursor = self._con.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[object] | None = None) -> Any:
        row = self._con.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run an ``INSERT ... VALUES (?, ...)`` for every row, in multi-row statements: DuckDB's
        own executemany prepares and runs one statement per row, five times slower."""
        if not rows:
            return
        found = _VALUES.match(sql)
        if found is None:
            self._con.executemany(sql, rows)
            return
        head, one = found.group(1), found.group(2)
        for start in range(0, len(rows), _CHUNK):
            part = rows[start : start + _CHUNK]
            self._con.execute(head + ", ".join([one] * len(part)), [v for r in part for v in r])

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing: a failure inside rolls every statement back."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def attach(self, path: Path, alias: str, *, writable: bool = False) -> None:
        mode = "" if writable else " (READ_ONLY)"
        self._con.execute(f"ATTACH '{_quote_path(path)}' AS {alias}{mode}")

    def detach(self, alias: str) -> None:
        self._con.execute(f"DETACH {alias}")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


def connect(path: Path | None) -> Database:
    """Open (creating if needed) the database at ``path``, or in memory, and migrate it."""
    try:
        if path is None:
            con = duckdb.connect(":memory:")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise LoadError(f"{path}: cannot open the database: {exc}") from exc
    db = Database(con, path)
    migrate(db)
    return db


def connect_staging(path: Path) -> Database:
    """A plain, unmigrated database file for one batch under check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Database(duckdb.connect(str(path)), path)


def migrate(db: Database) -> list[int]:
    """Apply numbered migrations not yet recorded; returns the versions applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in db.rows("SELECT version FROM schema_migrations")}
    applied = []
    for version, sql in _migrations():
        if version in done:
            continue
        with db.transaction():
            db.execute(sql)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                [version, dt.datetime.now(dt.UTC)],
            )
        applied.append(version)
    return applied


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("pipelines") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def reference_changed(db: Database, name: str, text: str) -> bool:
    """Whether the bundled file ``name`` differs from the one its table was loaded from; when
    it does, it is recorded as loaded (call inside the transaction that reloads the table)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if db.scalar("SELECT sha256 FROM reference_data WHERE name = ?", [name]) == digest:
        return False
    db.execute(
        "INSERT OR REPLACE INTO reference_data VALUES (?, ?, ?)",
        [name, digest, dt.datetime.now(dt.UTC)],
    )
    return True
