"""Stage a landed CSV into its own DuckDB file, every column as text, rows that do not parse kept.

A batch is checked in a staging file before anything touches the main database, so a bad file
can never half-load. Columns keep their published names and come from the file's own header, so
a renamed or missing column reaches the schema check instead of failing here. ``record_no`` is the
1-based data row in the file (the header is line 1, so line = record_no + 1).

Header names come from the file, so they reach SQL only as escaped string literals (the
``columns`` struct of ``read_csv``), never as SQL text, and a header DuckDB would mangle (an
empty name, a name given twice in any case, a name clashing with ``record_no``) is refused with
a LoadError naming the file and the column, rather than a binder error or a silently renamed
column.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from safer.kernel.errors import LoadError
from safer.store.db import DatabaseError, connect_staging, local_fault, remove_staging

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
    """The header row's fields (a UTF-8 byte-order mark dropped); empty for an empty file.
    Raises LoadError naming the file when the header is not CSV."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as raw:
        first = raw.readline(1 << 16)
    text = first.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text.strip():
        return ()
    try:
        # Universal newlines: a file ending its lines with a bare CR (old Mac Excel) has no
        # LF, so ``readline`` gave the whole file and the csv module would raise on the CR.
        return tuple(next(csv.reader(io.StringIO(text, newline=None))))
    except csv.Error as exc:
        raise LoadError(f"{source}: line 1 (the header) cannot be read as CSV: {exc}") from exc


# DuckDB compares identifiers without case, in ASCII only ("É" and "é" are two columns).
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _check_header(source: Path, columns: tuple[str, ...]) -> None:
    """Refuse header names DuckDB cannot stage as given (see the module docstring)."""
    seen = {"record_no"}
    for index, name in enumerate(columns, start=1):
        if not name:
            raise LoadError(f"{source}: line 1 (the header): column {index} has no name")
        if name.translate(_ASCII_LOWER) in seen:
            raise LoadError(
                f"{source}: line 1 (the header): column {index} {name!r} appears twice, or is "
                "the reserved name record_no"
            )
        seen.add(name.translate(_ASCII_LOWER))


def stage_csv(source: Path, staging: Path) -> Staged:
    """Create ``staging`` holding table ``batch``; raises LoadError naming an unreadable file."""
    columns = read_header(source)
    if not columns:
        raise LoadError(f"{source}: the file is empty (no header row)")
    _check_header(source, columns)
    remove_staging(staging)
    types = ", ".join(f"'{_q(name)}': 'VARCHAR'" for name in columns)
    readable = _without_bom(source, staging)
    try:
        db = connect_staging(staging)
    except BaseException:
        if readable != source:
            readable.unlink(missing_ok=True)
        raise
    try:
        # Explicit schema, no sniffing: a file that drifts must fail the checks, not be guessed.
        db.execute(
            f"CREATE TABLE raw AS SELECT * FROM read_csv('{_q(str(readable))}', "
            f"columns={{{types}}}, header=true, auto_detect=false, delim=',', quote='\"', "
            "escape='\"', strict_mode=true, store_rejects=true, "
            "rejects_table='rejects', rejects_scan='rejects_scan')"
        )
        # Insertion order is preserved, so rowid follows the file's row order.
        db.execute(f"CREATE TABLE {TABLE} AS SELECT rowid + 1 AS record_no, * FROM raw")
        db.execute("DROP TABLE raw")
        rows = int(db.scalar(f"SELECT count(*) FROM {TABLE}"))
        # DuckDB names no column for a fault in a field past the header's last (a row with
        # too many fields): name that last column, so the officer knows where to look.
        beyond = f"beyond {columns[-1]!r}"
        rejects = tuple(
            Reject(int(line), column or beyond, str(kind), str(text or ""))
            for line, column, kind, text in db.rows(
                "SELECT line, column_name, error_type, csv_line FROM rejects ORDER BY line"
            )
        )
    except DatabaseError as exc:
        # A full disk under the staging file is ours to mend, not a fault in the file.
        raise local_fault(exc, staging) or LoadError(
            f"{source}: {_stray_cr(source, columns)}cannot be read as CSV: {exc}"
        ) from exc
    finally:
        db.close()
        if readable != source:
            readable.unlink(missing_ok=True)
    return Staged(staging, TABLE, ("record_no", *columns), rows, rejects)


def _without_bom(source: Path, staging: Path) -> Path:
    """``source``, or a copy beside ``staging`` without its UTF-8 byte-order mark. DuckDB 2.0
    reads no rows at all, and reports no rejects, from a file that starts with a BOM and a
    quoted first header field holding a comma and an escaped quote (tests/test_bad_inputs.py
    found it): the landed file stays as published, the copy is read and removed."""
    with source.open("rb") as raw:
        if raw.read(3) != codecs.BOM_UTF8:
            return source
        copy = staging.with_name(f"{staging.name}.without-bom.csv")
        with copy.open("wb") as out:
            shutil.copyfileobj(raw, out)
    return copy


def _stray_cr(source: Path, columns: tuple[str, ...]) -> str:
    """Where the first carriage return outside quotes and not ending a line is, as "line N,
    column X: ...", or "". DuckDB's strict parser stops the whole file at such a CR (a file
    with mixed line endings) without saying where, and an officer needs the row to fix it."""
    quoted = False
    with source.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            field = 0
            body = line.removesuffix(b"\n").removesuffix(b"\r")
            for byte in body:
                if byte == 0x22:  # "
                    quoted = not quoted
                elif not quoted and byte == 0x2C:  # ,
                    field += 1
                elif not quoted and byte == 0x0D:  # CR
                    name = columns[field] if field < len(columns) else f"field {field + 1}"
                    return (
                        f"line {number}, column {name!r}: a carriage return (CR) inside the row "
                        "(mixed line endings?); "
                    )
    return ""


def _q(text: str) -> str:
    return text.replace("'", "''")
