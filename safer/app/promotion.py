"""The one path by which checked rows reach a source table, and the bookkeeping that goes with
it. A run's batch, a batch released from quarantine and a backfill's month all come through
``promote``: their rows replace their periods' rows, and in the same transaction the ledger
says what each batch did (``loaded``, or ``revised`` when it replaced rows in use), the periods
in use name it (``force_periods``, ``source_periods``) and its check results are kept. A batch
held back comes through ``hold_back``: its ledger row, its check results and one quarantine row
per failed error-level check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from safer.checks.models import CheckResult, Severity
from safer.checks.results import record_checks_many
from safer.kernel import faults
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.errors import LoadError
from safer.pipelines.load_ledger import LedgerEntry, PeriodInUse, record_ledgers, record_periods
from safer.pipelines.source import Promoted, Source
from safer.store.db import Database, DatabaseError, local_fault, remove_staging

__all__ = ["RowWriter", "errors_of", "hold_back", "promote", "promote_batch", "reason"]

RowWriter = Callable[[Database], Mapping[str, Promoted]]
"""Replaces the rows of each batch's periods in its source table; what it did, per batch id."""
Also = Callable[[Database, LedgerEntry], None]


def errors_of(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The failed error-level checks: any one holds a batch back."""
    return [r for r in results if not r.success and r.check.severity is Severity.ERROR]


def reason(where: str, results: Sequence[CheckResult]) -> str:
    """Why a batch is held back, naming the file and each failed error-level check."""
    return f"{where}: " + "; ".join(f"{r.check.id} {r.message}" for r in errors_of(results))


def promote(
    db: Database,
    settings: Settings,
    source: Source,
    entries: Sequence[LedgerEntry],
    write: RowWriter,
    results: Mapping[str, Sequence[CheckResult]],
    now: dt.datetime,
    pfa_of: Mapping[str, str] | None = None,
) -> list[LedgerEntry]:
    """Put checked batches into use, in the caller's transaction; the entries as recorded.

    ``write`` replaces the rows; the rest is the bookkeeping every path shares. An entry with
    status ``loaded`` becomes ``revised`` when it replaced rows already in use; any other status
    (``released``) is kept. ``pfa_of`` gives each batch's force's PFA code (the configured
    force's by default); ``results`` each batch's check results, kept beside it."""
    done = write(db)
    recorded = [_recorded(entry, done[entry.batch_id], now) for entry in entries]
    record_ledgers(db, recorded)
    record_periods(db, _periods_in_use(db, settings, source, recorded, pfa_of or {}))
    checked = {e.batch_id: results[e.batch_id] for e in entries if e.batch_id in results}
    record_checks_many(db, source.suite, checked)
    return recorded


def _recorded(entry: LedgerEntry, done: Promoted, now: dt.datetime) -> LedgerEntry:
    replaced = ", ".join(b for b in done.replaced if b != entry.data_batch) or None
    return replace(
        entry,
        status="revised" if entry.status == "loaded" and replaced else entry.status,
        rows=done.rows,
        outside_area_rows=done.outside_area_rows,
        revision_of=replaced,
        periods=done.periods,
        period=max(done.periods, default=entry.period),
        finished_at=now,
    )


def hold_back(
    db: Database, suite: str, entries: Sequence[tuple[LedgerEntry, Sequence[CheckResult]]]
) -> None:
    """Record batches held back by their checks, in the caller's transaction: each one's ledger
    row (its ``error`` the reason), its check results and its quarantine rows."""
    record_ledgers(db, [entry for entry, _ in entries])
    record_checks_many(db, suite, {entry.batch_id: results for entry, results in entries})
    for entry, results in entries:
        _record_quarantine(db, entry, results)


def promote_batch(
    db: Database,
    settings: Settings,
    source: Source,
    entry: LedgerEntry,
    staging: Path,
    clock: Clock,
    results: Sequence[CheckResult] | None = None,
    also: Also | None = None,
) -> LedgerEntry:
    """Put one staged batch into use through ``promote``, with ``also`` adding the caller's own
    rows (a release stamp) in the same transaction; ``results`` are its check results (None for
    a release: its results were kept when it was held back). The staged file is deleted once
    committed. Raises LoadError naming the staged file if it is missing or cannot be promoted;
    nothing is changed then. Returns the entry as recorded."""
    if not staging.is_file():
        raise LoadError(
            f"{staging}: the staged file of {entry.data_batch} is missing; nothing was changed"
        )
    try:
        db.attach(staging, "stg")
    except DatabaseError as exc:
        raise LoadError(f"{staging}: cannot open the staged batch: {exc}") from exc
    try:
        with db.transaction():

            def write(db: Database) -> dict[str, Promoted]:
                return {entry.batch_id: source.promote(db, settings, entry)}

            checked = {} if results is None else {entry.batch_id: results}
            (entry,) = promote(db, settings, source, [entry], write, checked, clock())
            if also is not None:
                also(db, entry)
            faults.point("promote.recorded")
    except DatabaseError as exc:
        raise local_fault(exc, staging) or LoadError(
            f"{staging}: cannot promote {entry.data_batch}: {exc}"
        ) from exc
    finally:
        db.detach("stg")
    faults.point("promote.committed")
    remove_staging(staging)
    return entry


def _periods_in_use(
    db: Database,
    settings: Settings,
    source: Source,
    entries: Sequence[LedgerEntry],
    pfa_of: Mapping[str, str],
) -> list[PeriodInUse]:
    """Each period the batches hold is in use, with its rows as the source table now counts them
    (a return's quarter may hold several partnerships' files), per force."""
    own = settings.force
    counts = _counts(db, source, entries, own.id)
    found = []
    for entry in entries:
        force = entry.force_id or own.id
        for period in entry.periods:
            rows, outside = counts.get((force, period), (0, 0))
            found.append(
                PeriodInUse(
                    source=entry.source,
                    period=period,
                    batch_id=entry.data_batch,
                    pfa_code=pfa_of.get(force, own.pfa_code),
                    rows=rows,
                    outside_area_rows=outside,
                    own_force=force == own.id,
                    content_hash=entry.content_hash,
                    etag=entry.etag,
                    last_modified=entry.last_modified,
                )
            )
    return found


def _counts(
    db: Database, source: Source, entries: Sequence[LedgerEntry], own: str
) -> dict[tuple[str, dt.date], tuple[int, int]]:
    """Rows and rows outside the force's areas per (force, period), in one query. A table with a
    force column (data.police.uk's) holds every force's rows in a national database; a table
    without one holds only the configured force's."""
    periods = sorted({p for e in entries for p in e.periods})
    if not periods:
        return {}
    outside = (
        "count(*) FILTER (WHERE csp_code IS NULL)"
        if source.area_level == "csp" and source.zero_fill
        else "0"
    )
    if _has_force_column(db, source.table):
        forces = sorted({e.force_id for e in entries if e.force_id is not None})
        rows = db.rows(
            f"SELECT force_id, period, count(*), {outside} FROM {source.table} "
            "WHERE list_contains(?, period) AND list_contains(?, force_id) GROUP BY ALL",
            [periods, forces],
        )
        return {(f, p): (int(n), int(o)) for f, p, n, o in rows}
    rows = db.rows(
        f"SELECT period, count(*), {outside} FROM {source.table} "
        "WHERE list_contains(?, period) GROUP BY ALL",
        [periods],
    )
    return {(own, p): (int(n), int(o)) for p, n, o in rows}


def _has_force_column(db: Database, table: str) -> bool:
    return bool(
        db.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_catalog = current_database() AND table_name = ? "
            "AND column_name = 'force_id'",
            [table],
        )
    )


def _record_quarantine(db: Database, entry: LedgerEntry, results: Sequence[CheckResult]) -> None:
    """One quarantine row per failed error-level check, with its sample of failing rows."""
    db.execute("DELETE FROM quarantine WHERE batch_id = ?", [entry.batch_id])
    db.executemany(
        "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        [
            (
                entry.batch_id,
                entry.source,
                entry.period,
                entry.file_path or entry.url,
                r.check.id,
                r.message,
                json.dumps(list(r.sample), default=str),
                entry.finished_at,
            )
            for r in errors_of(results)
        ],
    )
