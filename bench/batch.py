"""A large staged street-file batch built from the bundled real months, for the benchmarks.

Every bundled month is staged with the pipeline's own ``stage_csv``; their rows are replicated
(in file order, month after month) until the wanted count is reached, with Month rewritten to
one batch month so the suite passes, and written out as one published-style CSV. That CSV is
then staged with ``stage_csv`` again, so the benchmarked table is exactly what the pipeline
would check: the published columns as VARCHAR (empty fields NULL) after a leading ``record_no``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from safer.kernel.layouts import STREET_COLUMNS
from safer.kernel.periods import month_label
from safer.pipelines.staging import Staged, stage_csv
from safer.store.db import connect_staging

__all__ = ["STREET_DIR", "Batch", "build_batch"]

STREET_DIR = Path(__file__).resolve().parents[1] / "data" / "police-uk" / "street"


@dataclass(frozen=True)
class Batch:
    csv: Path
    staged: Staged
    period: dt.date
    source_rows: int
    """Rows in the bundled months before replication."""
    months: int


def build_batch(folder: Path, rows: int, period: dt.date) -> Batch:
    """Write ``rows`` real rows to ``folder/batch.csv`` and stage it as the pipeline does."""
    sources = sorted(STREET_DIR.glob("*-street.csv.gz"))
    if not sources:
        raise SystemExit(f"{STREET_DIR}: no bundled street months")
    pool = folder / "pool.duckdb"
    source_rows = _pool(folder, sources, pool)
    csv_path = folder / "batch.csv"
    _write_csv(pool, csv_path, rows, month_label(period), source_rows)
    pool.unlink()
    staged = stage_csv(csv_path, folder / "batch.duckdb")
    if staged.rows != rows or staged.rejects or staged.columns[1:] != STREET_COLUMNS:
        raise SystemExit(f"{csv_path}: staged {staged.rows:,} rows, {len(staged.rejects)} rejects")
    return Batch(csv_path, staged, period, source_rows, len(sources))


def _pool(folder: Path, sources: list[Path], pool: Path) -> int:
    """Stage each month as the pipeline does and gather the rows, numbered in file order."""
    columns = ", ".join(_ident(name) for name in STREET_COLUMNS)
    with connect_staging(pool) as db:
        typed = ", ".join(f"{_ident(name)} VARCHAR" for name in STREET_COLUMNS)
        db.execute(f"CREATE TABLE pool (month_no INTEGER, record_no BIGINT, {typed})")
        for month_no, source in enumerate(sources):
            staged = stage_csv(source, folder / "month.duckdb")
            if staged.columns[1:] != STREET_COLUMNS:
                raise SystemExit(f"{source}: unexpected header {staged.columns}")
            db.attach(staged.path, "month")
            db.execute(
                f"INSERT INTO pool SELECT {month_no}, record_no, {columns} "
                f"FROM month.{staged.table}"
            )
            db.detach("month")
            staged.path.unlink()
        return int(db.scalar("SELECT count(*) FROM pool"))


def _write_csv(pool: Path, target: Path, rows: int, month: str, source_rows: int) -> None:
    copies = -(-rows // source_rows)  # ceiling
    select = ", ".join(
        f"'{month}' AS \"Month\"" if name == "Month" else _ident(name) for name in STREET_COLUMNS
    )
    with connect_staging(pool) as db:
        db.execute(
            f"COPY (SELECT {select} FROM pool, range({copies}) AS r(copy_no) "
            f"ORDER BY copy_no, month_no, record_no LIMIT {rows}) "
            f"TO '{_literal(str(target))}' (FORMAT csv, HEADER true, DELIMITER ',')"
        )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return text.replace("'", "''")
