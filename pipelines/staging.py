"""Stage a landed CSV into its own DuckDB file, every column as text, rows that do not parse kept.

A batch is checked in a staging file before anything touches the main database, so a bad file
can never half-load. Columns keep their published names and come from the file's own header, so
a renamed or missing column reaches the schema check instead of failing here. ``record_no`` is the
1-based data row in the file (the header is line 1, so line = record_no + 1).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from pipelines.db import DatabaseError, connect_staging
from safer.errors import LoadError

__all__ = ["Reject", "Staged", "read_header", "stage_csv"]

TABLE = "batch"


@dataclass(frozen=True)
class Reject:
    line: int
    column: str | None
    error: str
    text: str


@dataclass(frozen=True)
class Staged:
    path: Path
    table: str
    columns: tuple[str, ...]
    rows: int
    rejects: tuple[Reject, ...]


def read_header(source: Path) -> tuple[str, ...]:
    """The header row's fields (a UTF-8 byte-order mark dropped); empty for an empty file."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as raw:
        first = raw.readline(1 << 16)
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text.strip():
        return ()
    return tuple(next(csv.reader(io.StringIO(text))))


def stage_csv(source: Path, staging: Path) -> Staged:
    """Create ``staging`` holding table ``batch``; raises LoadError naming an unreadable file."""
    columns = read_header(source)
    if not columns:
        raise LoadError(f"{source}: the file is empty (no header row)")
    staging.unlink(missing_ok=True)
    types = ", ".join(f"'{_q(name)}': 'VARCHAR'" for name in columns)
    db = connect_staging(staging)
    try:
        # Explicit schema, no sniffing: a file that drifts must fail the checks, not be guessed.
        db.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_csv('{_q(str(source))}', "
            f"columns={{{types}}}, header=true, auto_detect=false, delim=',', quote='\"', "
            "escape='\"', strict_mode=true, store_rejects=true, "
            "rejects_table='rejects', rejects_scan='rejects_scan')"
        )
        # Insertion order is preserved, so rowid follows the file's row order.
        db.execute(f"CREATE TABLE {TABLE} AS SELECT rowid + 1 AS record_no, * FROM raw")
        db.execute("DROP TABLE raw")
        rows = int(db.scalar(f"SELECT count(*) FROM {TABLE}"))
        rejects = tuple(
            Reject(int(line), column, str(kind), str(text or ""))
            for line, column, kind, text in db.rows(
                "SELECT line, column_name, error_type, csv_line FROM rejects ORDER BY line"
            )
        )
    except DatabaseError as exc:
        raise LoadError(f"{source}: cannot be read as CSV: {exc}") from exc
    finally:
        db.close()
    return Staged(staging, TABLE, ("record_no", *columns), rows, rejects)


def _q(text: str) -> str:
    return text.replace("'", "''")
