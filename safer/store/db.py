"""The one module that opens DuckDB: connections, migrations and transactions.

Everything else receives a ``Database`` and speaks SQL through it, so tests substitute a real
file here and nowhere else. DuckDB's errors are mapped at this boundary: a statement DuckDB
refuses raises the project's ``DatabaseError`` (no other module imports duckdb), and a file held
by another process or damaged becomes DatabaseLocked or DatabaseCorrupt, LoadErrors whose
message names the recovery (``safer doctor``, README "Recovery").
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from safer.kernel.errors import LoadError, LocalFault

if TYPE_CHECKING:
    from safer.kernel.config import DatabaseConfig

__all__ = [
    "Database",
    "DatabaseCorrupt",
    "DatabaseError",
    "DatabaseLocked",
    "connect",
    "connect_staging",
    "copy_database",
    "database_problem",
    "latest_version",
    "local_fault",
    "migrate",
    "open_database",
    "open_read_only",
    "reference_changed",
    "remove_staging",
    "schema_version",
]


class DatabaseError(Exception):
    """A statement DuckDB refused or could not finish. Not a SaferError: an unexpected one is a
    bug to see in full, unless ``database_problem`` or ``local_fault`` says what it means."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
        """DuckDB's exception class (``IOException``, ``ConstraintException``, ...)."""


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        raise DatabaseError(str(exc), type(exc).__name__) from exc


# INSERT [OR ...] INTO table [(columns)] VALUES (?, ..., ?): the one form executemany speeds up.
_INSERT = re.compile(
    r"^\s*(INSERT\s+(?:OR\s+\w+\s+)?INTO\s+([\w.]+)\s*(?:\(([^)]*)\))?\s*)"
    r"VALUES\s*\((?:\s*\?\s*,)*\s*\?\s*\)\s*$",
    re.IGNORECASE | re.DOTALL,
)


class Database:
    """A DuckDB connection with the project's schema applied."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self._con = connection
        self.path = path

    def execute(self, sql: str, params: Sequence[object] | None = None) -> Database:
        with _mapped():
            self._con.execute(sql, params)
        return self

    def rows(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        with _mapped():
            return self._con.execute(sql, params).fetchall()

    def dicts(self, sql: str, params: Sequence[object] | None = None) -> list[dict[str, Any]]:
        with _mapped():
            cursor = self._con.execute(sql, params)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def scalar(self, sql: str, params: Sequence[object] | None = None) -> Any:
        with _mapped():
            row = self._con.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run an ``INSERT ... VALUES (?, ...)`` for every row, as one statement over the
        columns: each column goes in as one typed list parameter and ``unnest`` turns the lists
        back into rows. DuckDB's own executemany prepares and runs one statement per row, and
        multi-row VALUES binds every value separately; both are over 20 times slower (25,000
        evaluations: 6 s against 0.25 s). Other statements run row by row."""
        if not rows:
            return
        with _mapped():
            self._executemany(sql, rows)

    def _executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        found = _INSERT.match(sql)
        if found is None:
            self._con.executemany(sql, rows)
            return
        head, table, named = found.group(1), found.group(2), found.group(3)
        described = self._con.execute(f"DESCRIBE {table}").fetchall()
        types = {name.lower(): kind for name, kind, *_ in described}
        columns = [c.strip().lower() for c in named.split(",")] if named else list(types)
        if any(len(row) != len(columns) for row in rows):
            raise ValueError(f"{sql!r}: a row does not have {len(columns)} values")
        lists = [list(column) for column in zip(*rows, strict=True)]
        unnests = ", ".join(f"unnest(?::{types[c]}[])" for c in columns)
        self._con.execute(f"{head}SELECT {unnests}", lists)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing: a failure inside rolls every statement back."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def attach(self, path: Path, alias: str, *, writable: bool = False) -> None:
        mode = "" if writable else " (READ_ONLY)"
        self.execute(f"ATTACH '{_quote_path(path)}' AS {alias}{mode}")

    def detach(self, alias: str) -> None:
        self.execute(f"DETACH {alias}")

    def close(self) -> None:
        with _mapped():
            self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


class DatabaseLocked(LoadError):
    """Another process holds DuckDB's lock on the database file."""


class DatabaseCorrupt(LoadError):
    """The database file is damaged: DuckDB cannot read it."""


_LOCKED = ("could not set lock",)
_CORRUPT = (
    "not a valid duckdb database file",
    "corrupt database file",
    "could not read enough bytes",
    "checksum",
    "failure while replaying wal",
    "invalid database header",
)
_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


# The C library's words for a disk that fails us, as DuckDB passes them on in its messages
# ("Could not write file ...: No space left on device"), whatever exception type it chose.
_DISK = tuple(
    os.strerror(code).lower()
    for code in (errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT, errno.EACCES)
)


def local_fault(exc: BaseException, where: Path) -> LocalFault | None:
    """An OSError, or a duckdb error from the file system under ``where`` (a full, read-only or
    failing disk), as a LocalFault naming the file; None for any other error (a file that is
    not CSV is the source's fault, and is checked and quarantined as such)."""
    if isinstance(exc, LocalFault):
        return exc
    if isinstance(exc, OSError):
        return LocalFault(f"{exc.filename or where}: {exc.strerror or exc}")
    if not isinstance(exc, (DatabaseError, duckdb.Error)):
        return None
    kind = exc.kind if isinstance(exc, DatabaseError) else type(exc).__name__
    if kind == "IOException" or any(marker in str(exc).lower() for marker in _DISK):
        return LocalFault(f"{where}: {exc}")
    return None


def database_problem(exc: BaseException, path: Path | None) -> LoadError | None:
    """A duckdb error that says the file is locked or damaged, as the error an operator can act
    on (naming ``safer doctor`` and the recovery); None for any other error."""
    if not isinstance(exc, (DatabaseError, duckdb.Error)):
        return None
    where = path or "the database"
    text = str(exc)
    lower = text.lower()
    if any(marker in lower for marker in _LOCKED):
        holder = _HOLDER.search(text)
        who = f"pid {holder.group(2)}, {holder.group(1)}" if holder else "another process"
        return DatabaseLocked(
            f"{where}: the database is in use by {who} (DuckDB: {text}); wait for it to finish "
            "(`safer status` names a safer run that holds the run lock), or run `safer doctor` "
            "to see who holds it"
        )
    if any(marker in lower for marker in _CORRUPT):
        return DatabaseCorrupt(
            f"{where}: the database file is damaged (DuckDB: {text}). Recovery (`safer doctor` "
            "says more): restore the latest copy made by `safer backup`, or move the file aside "
            "and run `safer run`, which rebuilds it from the sources"
        )
    return None


def open_database(config: DatabaseConfig) -> Database:
    """The configured database (``[database]``: its file and DuckDB's memory limit), migrated."""
    return connect(config.path, config.memory_limit)


def connect(path: Path | None, memory_limit: str | None = None) -> Database:
    """Open (creating if needed) the database at ``path``, or in memory, and migrate it;
    ``memory_limit`` caps DuckDB's memory (``1GB``; None leaves DuckDB's default).

    Raises DatabaseLocked or DatabaseCorrupt (LoadErrors naming the recovery) when DuckDB says
    the file is held by another process or damaged, LoadError for any other failure to open.
    """
    config: dict[str, str | bool | int | float | list[str]] = (
        {} if memory_limit is None else {"memory_limit": memory_limit}
    )
    try:
        if path is None:
            con = duckdb.connect(":memory:", config=config)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path), config=config)
    except duckdb.Error as exc:
        problem = database_problem(exc, path)
        raise problem or LoadError(f"{path}: cannot open the database: {exc}") from exc
    db = Database(con, path)
    migrate(db)
    return db


def open_read_only(path: Path) -> Database:
    """Open an existing database file read-only and unmigrated (``safer doctor``, ``safer
    backup``'s check of its copy); raises as ``connect`` does, and LoadError when it is missing.
    """
    if not path.is_file():
        raise LoadError(f"{path}: no database file")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        problem = database_problem(exc, path)
        raise problem or LoadError(f"{path}: cannot open the database: {exc}") from exc
    return Database(con, path)


def copy_database(path: Path, out: Path) -> None:
    """Write a consistent copy of the database file at ``path`` to ``out`` (``safer backup``).

    The file is opened (replaying a killed run's write-ahead log) and checkpointed, so it holds
    every committed transaction, then copied byte for byte while this connection holds DuckDB's
    lock, so no other process writes it meanwhile. ``out`` is the caller's working name (it
    checks the copy before renaming it into place, so a damaged copy never becomes the newest
    backup); a copy that fails part-way is removed. The caller holds the run lock.
    """
    if not path.is_file():
        raise LoadError(f"{path}: no database file")
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        problem = database_problem(exc, path)
        raise problem or LoadError(f"{path}: cannot open the database: {exc}") from exc
    written = False
    try:
        con.execute("CHECKPOINT")
        out.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as source, out.open("wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
            copy.flush()
            os.fsync(copy.fileno())
        written = True
    except duckdb.Error as exc:
        problem = database_problem(exc, path)
        raise problem or LoadError(f"{path}: cannot checkpoint the database: {exc}") from exc
    except OSError as exc:
        raise LoadError(f"{out}: cannot write the copy: {exc}") from exc
    finally:
        if not written:
            out.unlink(missing_ok=True)
        con.close()


def remove_staging(path: Path) -> None:
    """Delete a staging database file and its write-ahead log: a log left beside a new file of
    the same name would be replayed into it."""
    path.unlink(missing_ok=True)
    path.with_name(f"{path.name}.wal").unlink(missing_ok=True)


def connect_staging(path: Path) -> Database:
    """A plain, unmigrated database file for one batch under check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _mapped():
        return Database(duckdb.connect(str(path)), path)


def migrate(db: Database, upto: int | None = None) -> list[int]:
    """Apply numbered migrations not yet recorded (those up to version ``upto`` only, when
    given: the migration tests build each earlier schema); returns the versions applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in db.rows("SELECT version FROM schema_migrations")}
    applied = []
    for version, sql in _migrations():
        if version in done or (upto is not None and version > upto):
            continue
        with db.transaction():
            db.execute(sql)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)",
                [version, dt.datetime.now(dt.UTC)],
            )
        applied.append(version)
    return applied


def latest_version() -> int:
    """The newest schema version this code knows (its last migration)."""
    return max(version for version, _ in _migrations())


def schema_version(db: Database) -> int | None:
    """The newest migration applied to ``db``; None when it has none (not a safer database)."""
    found = db.scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    )
    if not found:
        return None
    version: int | None = db.scalar("SELECT max(version) FROM schema_migrations")
    return version


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("safer.store") / "migrations"
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
