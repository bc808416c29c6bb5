"""What happened to each batch: the load ledger, check results and the quarantine.

Written in the caller's transaction where one is open, so a batch's data and its record of
being loaded commit together.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from checks.models import CheckResult, Severity
from pipelines.db import Database

__all__ = [
    "BACKFILL_RUN",
    "LedgerEntry",
    "adopt_unowned_batches",
    "record_checks",
    "record_checks_many",
    "record_ledger",
    "record_ledgers",
    "record_quarantine",
]


BACKFILL_RUN = "-backfill-"
"""In the run id of every ``safer backfill`` (``20260101T070000-backfill-1a2b3c``)."""


@dataclass(frozen=True)
class LedgerEntry:
    batch_id: str
    run_id: str
    source: str
    period: dt.date | None
    """The latest period the file holds; None when it could not be read far enough to tell."""
    url: str
    status: str  # loaded | revised | quarantined | released | failed | withdrawn
    started_at: dt.datetime
    finished_at: dt.datetime
    file_path: str | None = None
    content_hash: str | None = None
    rows: int | None = None
    outside_area_rows: int | None = None
    error: str | None = None
    revision_of: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    released_batch: str | None = None
    """On a release row: the quarantined batch an operator put into use."""
    actor: str | None = None
    note: str | None = None
    slot: str | None = None
    """The file's identity over time (``pipelines.batch.Wanted.slot``)."""
    periods: tuple[dt.date, ...] = ()
    """Every period the file holds."""
    force_id: str | None = None
    """The force the batch belongs to (data.police.uk slug)."""

    @property
    def data_batch(self) -> str:
        """The batch whose rows this entry concerns: the released one for a release row."""
        return self.released_batch or self.batch_id


def adopt_unowned_batches(db: Database, force_id: str) -> None:
    """Give ledger rows without a force (written before migration 008, when a database held
    one force) the configured force, so every query can group batches by force alone."""
    db.execute("UPDATE load_ledger SET force_id = ? WHERE force_id IS NULL", [force_id])


def record_ledger(db: Database, entry: LedgerEntry) -> None:
    record_ledgers(db, [entry])


def record_ledgers(db: Database, entries: Sequence[LedgerEntry]) -> None:
    """Many ledger rows in one statement (a national month has one per force)."""
    db.executemany(
        "INSERT OR REPLACE INTO load_ledger (batch_id, run_id, source, period, url, file_path, "
        "content_hash, rows, outside_area_rows, status, error, revision_of, etag, last_modified, "
        "started_at, finished_at, released_batch, actor, note, slot, periods, force_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_ledger_row(entry) for entry in entries],
    )


def _ledger_row(entry: LedgerEntry) -> list[object]:
    return [
        entry.batch_id,
        entry.run_id,
        entry.source,
        entry.period,
        entry.url,
        entry.file_path,
        entry.content_hash,
        entry.rows,
        entry.outside_area_rows,
        entry.status,
        entry.error,
        entry.revision_of,
        entry.etag,
        entry.last_modified,
        entry.started_at,
        entry.finished_at,
        entry.released_batch,
        entry.actor,
        entry.note,
        entry.slot,
        list(entry.periods),
        entry.force_id,
    ]


def record_checks(db: Database, batch_id: str, suite: str, results: Sequence[CheckResult]) -> None:
    record_checks_many(db, suite, {batch_id: results})


def record_checks_many(
    db: Database, suite: str, results: Mapping[str, Sequence[CheckResult]]
) -> None:
    """Each batch's check results, replacing any it had, in two statements."""
    db.execute("DELETE FROM check_results WHERE list_contains(?, batch_id)", [list(results)])
    db.executemany(
        "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                batch_id,
                suite,
                r.check.id,
                r.check.severity.value,
                r.success,
                r.observed,
                r.unexpected_count,
                None if r.success else r.message,
            )
            for batch_id, found in results.items()
            for r in found
        ],
    )


def record_quarantine(
    db: Database,
    entry: LedgerEntry,
    results: Sequence[CheckResult],
) -> None:
    """One quarantine row per failed error-level check, with its sample of failing rows."""
    failed = [r for r in results if not r.success and r.check.severity is Severity.ERROR]
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
            for r in failed
        ],
    )
