"""What happened to each batch: the load ledger, check results and the quarantine.

Written in the caller's transaction where one is open, so a batch's data and its record of
being loaded commit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from safer.store.db import Database

__all__ = [
    "BACKFILL_RUN",
    "LedgerEntry",
    "PeriodInUse",
    "adopt_unowned_batches",
    "forget_period",
    "record_ledger",
    "record_ledgers",
    "record_periods",
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
    """The file's identity over time (``safer.pipelines.source.Wanted.slot``)."""
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


@dataclass(frozen=True)
class PeriodInUse:
    """Which batch a period's figures now come from, and how many rows it holds."""

    source: str
    period: dt.date
    batch_id: str
    pfa_code: str
    rows: int
    outside_area_rows: int
    own_force: bool
    """The configured force's own view, which ``source_periods`` also keeps."""
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def record_periods(db: Database, periods: Sequence[PeriodInUse]) -> None:
    """The periods' rows in ``force_periods`` (every force) and ``source_periods`` (the
    configured force's view): the one writer of both, for a run, a release, a withdrawn return
    and the backfill."""
    db.executemany(
        "INSERT OR REPLACE INTO force_periods VALUES (?, ?, ?, ?, ?, ?)",
        [
            (p.source, p.pfa_code, p.period, p.batch_id, p.rows, p.outside_area_rows)
            for p in periods
        ],
    )
    own = [p for p in periods if p.own_force]
    db.executemany(
        "INSERT OR REPLACE INTO source_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                p.source,
                p.period,
                p.batch_id,
                p.content_hash,
                p.etag,
                p.last_modified,
                p.rows,
                p.outside_area_rows,
            )
            for p in own
        ],
    )


def forget_period(db: Database, source: str, pfa_code: str, period: dt.date) -> None:
    """A period with no rows left is no longer in use."""
    db.execute("DELETE FROM source_periods WHERE source = ? AND period = ?", [source, period])
    db.execute(
        "DELETE FROM force_periods WHERE source = ? AND pfa_code = ? AND period = ?",
        [source, pfa_code, period],
    )
