"""Quarantined batches for the operator: list them, show one, release one after review.

A release is the operator's decision that a batch which failed its checks is good enough to use.
It goes through ``promotion.promote_batch``, the same path as a month that passed, and in that
one transaction also stamps the batch's quarantine rows ``released_at`` and records who released
it in its own ledger row (status ``released``, ``released_batch`` naming the batch). From then
on the release row is the month's latest, so its quarters are no longer withheld and an unchanged
file is not checked again. Text for the terminal comes from ``pipelines.quarantine_text``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from safer.app.batch import refetch
from safer.app.promotion import promote_batch
from safer.app.sources import SOURCES
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.errors import LoadError, QuarantineError
from safer.kernel.periods import month_label
from safer.pipelines.load_ledger import BACKFILL_RUN, LedgerEntry
from safer.pipelines.source import BatchOutcome, SourceContext, staging_path
from safer.store.db import Database

__all__ = [
    "FailedCheck",
    "LedgerRow",
    "QuarantinedBatch",
    "Release",
    "find_batch",
    "ledger_history",
    "list_batches",
    "refetch_batch",
    "release_batch",
]


@dataclass(frozen=True)
class FailedCheck:
    check_id: str
    message: str
    sample: tuple[dict[str, Any], ...]
    """The first failing rows (``record_no`` and the offending values) or lines or values."""


@dataclass(frozen=True)
class Release:
    at: dt.datetime
    actor: str | None
    note: str | None


@dataclass(frozen=True)
class QuarantinedBatch:
    batch_id: str
    source: str
    period: dt.date | None
    file_path: str
    quarantined_at: dt.datetime
    checks: tuple[FailedCheck, ...]
    released: Release | None = None
    superseded_by: str | None = None
    """A later file of the same slot that came after this one (loaded or quarantined)."""
    slot: str = ""
    """The file's identity over time: the month of a monthly file, a return's file name."""
    force_id: str | None = None
    by_backfill: bool = False
    """Quarantined by ``safer backfill``, which reads files where they lie and stages none."""


@dataclass(frozen=True)
class LedgerRow:
    batch_id: str
    status: str
    finished_at: dt.datetime
    rows: int | None
    error: str | None
    revision_of: str | None
    released_batch: str | None
    actor: str | None
    note: str | None


# One row per failed check, with the batch's release (if any) and its slot's latest batch.
_BATCHES = """
WITH releases AS (
    SELECT released_batch AS batch_id, actor, note
    FROM load_ledger WHERE status = 'released'
    QUALIFY row_number() OVER (PARTITION BY released_batch ORDER BY finished_at DESC) = 1
), latest AS (
    SELECT source, slot, force_id, coalesce(released_batch, batch_id) AS in_force
    FROM load_ledger WHERE status <> 'failed'
    QUALIFY row_number() OVER (PARTITION BY source, slot, force_id ORDER BY finished_at DESC) = 1
)
SELECT q.batch_id, q.source, q.period, q.file_path, q.created_at, q.released_at,
       q.check_id, q.message, q.sample, b.force_id, b.run_id, r.actor, r.note, l.in_force, b.slot
FROM quarantine q
JOIN load_ledger b ON b.batch_id = q.batch_id
LEFT JOIN releases r ON r.batch_id = q.batch_id
LEFT JOIN latest l ON l.source = q.source AND l.slot = b.slot
    AND l.force_id IS NOT DISTINCT FROM b.force_id
WHERE $1::VARCHAR IS NULL OR q.batch_id = $1
ORDER BY q.period, q.created_at, q.batch_id, q.check_id
"""


def list_batches(db: Database, *, include_released: bool = False) -> list[QuarantinedBatch]:
    """Quarantined batches, oldest month first; released ones only when asked."""
    batches = _batches(db, None)
    return [b for b in batches if include_released or b.released is None]


def find_batch(db: Database, batch_id: str) -> QuarantinedBatch:
    """The quarantined batch ``batch_id``; raises QuarantineError naming it if there is none."""
    found = _batches(db, batch_id)
    if not found:
        raise QuarantineError(
            f"{batch_id}: no quarantined batch has this ID (safer quarantine list --all shows them)"
        )
    return found[0]


def _batches(db: Database, batch_id: str | None) -> list[QuarantinedBatch]:
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in db.rows(_BATCHES, [batch_id]):
        grouped.setdefault(row[0], []).append(row)
    return [_batch(rows) for rows in grouped.values()]


def _batch(rows: list[tuple[Any, ...]]) -> QuarantinedBatch:
    batch_id, source, period, file_path, created, released_at, *_ = rows[0]
    force_id, run_id, actor, note, in_force, slot = rows[0][-6:]
    checks = tuple(FailedCheck(r[6], r[7], _sample(r[8])) for r in rows)
    return QuarantinedBatch(
        batch_id=batch_id,
        source=source,
        period=period,
        file_path=file_path,
        quarantined_at=created,
        checks=checks,
        # An older release of the same file does not count once it was quarantined again.
        released=Release(released_at, actor, note) if released_at is not None else None,
        superseded_by=in_force if in_force not in (None, batch_id) else None,
        slot=slot or "",
        force_id=force_id,
        by_backfill=BACKFILL_RUN in (run_id or ""),
    )


def _sample(text: str | None) -> tuple[dict[str, Any], ...]:
    items = json.loads(text) if text else []
    return tuple(item if isinstance(item, dict) else {"value": item} for item in items)


def ledger_history(
    db: Database, source: str, slot: str, force_id: str | None = None
) -> list[LedgerRow]:
    """Every ledger row of ``source`` for the file ``slot`` (of ``force_id``, in a database of
    many forces), oldest first."""
    rows = db.rows(
        "SELECT batch_id, status, finished_at, rows, error, revision_of, released_batch, actor, "
        "note FROM load_ledger WHERE source = $1 AND slot = $2 "
        "AND ($3::VARCHAR IS NULL OR force_id = $3) ORDER BY finished_at, batch_id",
        [source, slot, force_id],
    )
    return [LedgerRow(*row) for row in rows]


def release_batch(
    db: Database,
    settings: Settings,
    batch_id: str,
    actor: str,
    note: str | None,
    clock: Clock,
) -> LedgerEntry:
    """Put a reviewed quarantined batch into use; returns its release ledger entry.

    Raises QuarantineError for an unknown, released or superseded batch and LoadError when its
    staged file is missing or cannot be promoted; nothing is changed then.
    """
    batch = find_batch(db, batch_id)
    _check_releasable(batch)
    entry = _release_entry(db, batch, actor, note, clock())

    def stamp(db: Database, done: LedgerEntry) -> None:
        db.execute(
            "UPDATE quarantine SET released_at = ? WHERE batch_id = ? AND released_at IS NULL",
            [done.finished_at, batch_id],
        )

    staging = staging_path(settings.paths.data_dir, batch_id)
    try:
        source = SOURCES[batch.source]
        return promote_batch(db, settings, source, entry, staging, clock, also=stamp)
    except LoadError as exc:
        raise LoadError(
            f"{exc}; `safer quarantine refetch {batch_id}` fetches the file again and checks it "
            "anew"
        ) from exc


def refetch_batch(db: Database, ctx: SourceContext, batch_id: str) -> BatchOutcome:
    """Fetch a quarantined batch's file again and check it anew: loaded if it passes now (the
    fault was ours, or the source mended it), quarantined again with fresh reasons if not.

    Raises QuarantineError for an unknown, released or superseded batch, or one whose file the
    source no longer offers; nothing is changed then.
    """
    batch = find_batch(db, batch_id)
    _check_releasable(batch, "refetched")
    found = refetch(db, SOURCES[batch.source], ctx, batch.slot)
    if found is None:
        raise QuarantineError(
            f"{batch_id}: {batch.source} no longer offers {batch.slot!r} (removed from its "
            "folder, or outside the configured months); nothing to fetch"
        )
    return found


def _check_releasable(batch: QuarantinedBatch, done: str = "released") -> None:
    if batch.released is not None:
        who = f" by {batch.released.actor}" if batch.released.actor else ""
        raise QuarantineError(
            f"{batch.batch_id}: already released at {batch.released.at:%Y-%m-%d %H:%M}{who}; "
            "nothing changed"
        )
    if batch.superseded_by is not None:
        # Releasing an older file would put stale rows back over the month's latest file.
        raise QuarantineError(
            f"{batch.batch_id}: a later {_what(batch)} came after it "
            f"({batch.superseded_by}); only the latest file of a slot can be {done}"
        )
    if batch.source not in SOURCES:
        raise QuarantineError(f"{batch.batch_id}: {batch.source} is not a source safer knows")
    if batch.by_backfill:
        raise QuarantineError(
            f"{batch.batch_id}: quarantined by `safer backfill`, which checks files where they "
            f"lie and keeps no staged copy; it cannot be {done} here: once the file is "
            "corrected (or data.police.uk revises it), run the backfill for that month again"
        )


def _what(batch: QuarantinedBatch) -> str:
    if batch.slot and batch.period and batch.slot == month_label(batch.period):
        return f"{batch.slot} file"
    return f"version of {batch.slot!r}"


def _release_entry(
    db: Database, batch: QuarantinedBatch, actor: str, note: str | None, now: dt.datetime
) -> LedgerEntry:
    """The release row: the quarantined row's file and validators, under an id of its own."""
    rows = db.dicts(
        "SELECT url, file_path, content_hash, etag, last_modified, slot, periods, force_id "
        "FROM load_ledger "
        "WHERE batch_id = ? AND status = 'quarantined'",
        [batch.batch_id],
    )
    if not rows:
        raise QuarantineError(f"{batch.batch_id}: its quarantined ledger row is missing")
    run_id = f"{now:%Y%m%dT%H%M%S}-release"
    return LedgerEntry(
        batch_id=f"{batch.batch_id}:released:{run_id}",
        run_id=run_id,
        source=batch.source,
        period=batch.period,
        status="released",
        started_at=now,
        finished_at=now,
        released_batch=batch.batch_id,
        actor=actor,
        note=note,
        **{**rows[0], "periods": tuple(rows[0]["periods"] or ())},
    )
