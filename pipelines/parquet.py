"""``safer export --parquet DIR``: the loaded source tables as Parquet, partitioned by force and
month, and the figures beside them, for an engine that is not safer (DuckDB, Spark, Trino,
pandas) to read across forces without opening the database.

    DIR/police_street/force_id=cheshire/file_month=2025-06/data_0.parquet
    DIR/observations.parquet, DIR/evaluations.parquet

Each data.police.uk table is written with hive partitioning, so a reader that filters on force
or month reads only those files; the figures are small and go in one file each. Written into a
new folder and swapped in, so a reader never sees half an export. An existing ``DIR`` is
replaced only when it is an earlier export (it holds the ``MARKER`` file): a folder safer did
not write is never deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from safer.kernel.errors import LoadError
from safer.store.db import Database

__all__ = ["MARKER", "PARTITIONED", "export_parquet"]

MARKER = ".safer-export"

PARTITIONED = ("police_street", "police_outcomes", "police_stop_search")
_WHOLE = ("observations", "evaluations", "load_ledger", "areas")


def export_parquet(db: Database, out: Path) -> dict[str, int]:
    """Write every table; returns rows per table. Raises LoadError when ``out`` is something
    other than an earlier export, DatabaseError on a failed write."""
    _refuse_foreign(out)
    temp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    counts: dict[str, int] = {}
    for table in PARTITIONED:
        counts[table] = int(db.scalar(f"SELECT count(*) FROM {table}"))
        if counts[table]:
            db.execute(
                f"COPY (SELECT *, strftime(period, '%Y-%m') AS file_month FROM {table}) "
                f"TO '{_quote(temp / table)}' (FORMAT PARQUET, PARTITION_BY (force_id, file_month))"
            )
    for table in _WHOLE:
        counts[table] = int(db.scalar(f"SELECT count(*) FROM {table}"))
        db.execute(f"COPY {table} TO '{_quote(temp / table)}.parquet' (FORMAT PARQUET)")
    (temp / MARKER).write_text("written by safer export --parquet; replaced by the next\n")
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.replace(old)
    temp.replace(out)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def _refuse_foreign(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise LoadError(f"{out}: not a folder; give --parquet a new or earlier export folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise LoadError(
            f"{out}: a folder that is not an earlier safer export (no {MARKER} in it); safer "
            "replaces only its own exports, so give --parquet a new folder"
        )


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
