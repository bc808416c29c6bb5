"""data.police.uk monthly street CSVs for one force: fetch, land, stage, check, promote.

Each month is one batch. A month is promoted into ``police_street`` only when every error-level
check passes, in one transaction that replaces whatever that month held before; otherwise it is
quarantined and the previous good data stays in use. A quarantined batch's staged file is kept
under ``{data_dir}/staging/`` so an operator can release it later (``pipelines.quarantine``),
through the same ``promote_batch``. A month not yet published (404) is reported as "not yet
available", not as a failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from checks.gx_runner import run_suite
from checks.models import CheckResult, Severity
from checks.parse import parse_result
from checks.police_street import street_suite
from pipelines.areas import LAD_FROM_LSOA_NAME_SQL
from pipelines.db import Database, DatabaseError
from pipelines.http import FetchPolicy
from pipelines.landing import Landed, land
from pipelines.ledger import LedgerEntry, record_checks, record_ledger, record_quarantine
from pipelines.staging import stage_csv
from safer.config import ForceConfig, PoliceUkStreetConfig, Settings
from safer.errors import CheckError, FetchError, LoadError
from safer.periods import add_months, month_label

__all__ = [
    "SOURCE",
    "MonthOutcome",
    "months_to_check",
    "promote_batch",
    "staging_path",
    "sync_street",
]

logger = logging.getLogger(__name__)

SOURCE = "police_uk_street"
SUITE = "police_street"
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class MonthOutcome:
    period: dt.date
    outcome: str
    """loaded | revised | unchanged | not_yet_available | quarantined | failed."""
    message: str
    batch_id: str | None = None


@dataclass(frozen=True)
class _Job:
    db: Database
    settings: Settings
    run_id: str
    outcome_labels: tuple[str, ...]
    clock: Clock

    @property
    def cfg(self) -> PoliceUkStreetConfig:
        return self.settings.sources.police_uk_street


def months_to_check(db: Database, cfg: PoliceUkStreetConfig, as_of: dt.date) -> list[dt.date]:
    """Wanted months not yet loaded, plus loaded ones recent enough to be revised."""
    loaded = {
        row[0] for row in db.rows("SELECT period FROM source_periods WHERE source = ?", [SOURCE])
    }
    newest = max(loaded, default=None)
    revisit_from = add_months(newest, -cfg.revisit_months) if newest else None
    return [
        month
        for month in cfg.wanted_months(as_of)
        if month not in loaded or (revisit_from is not None and month >= revisit_from)
    ]


def sync_street(
    db: Database,
    settings: Settings,
    run_id: str,
    as_of: dt.date,
    outcome_labels: tuple[str, ...],
    clock: Clock,
) -> list[MonthOutcome]:
    """Bring every wanted month up to date; one outcome per month checked, oldest first."""
    job = _Job(db, settings, run_id, outcome_labels, clock)
    months = months_to_check(db, job.cfg, as_of)
    outcomes = []
    for index, period in enumerate(months, start=1):
        outcome = _sync_month(job, period)
        logger.info(
            "police.uk street %s [%d/%d]: %s: %s",
            month_label(period),
            index,
            len(months),
            outcome.outcome,
            outcome.message,
        )
        outcomes.append(outcome)
    return outcomes


def _sync_month(job: _Job, period: dt.date) -> MonthOutcome:
    started = job.clock()
    label = month_label(period)
    relative = f"{label}/{label}-{job.settings.force.id}-street.csv"
    previous = _previous(job.db, period)
    folder = job.settings.paths.data_dir / "landing" / SOURCE / label
    try:
        landed = land(
            job.cfg.base_url,
            relative,
            folder,
            _policy(job.cfg),
            etag=previous.get("etag"),
            last_modified=previous.get("last_modified"),
        )
    except FetchError as exc:
        _record_failure(
            job, period, started, f"{job.cfg.base_url.rstrip('/')}/{relative}", str(exc)
        )
        return MonthOutcome(period, "failed", str(exc))
    if landed.status == "not_found":
        return MonthOutcome(period, "not_yet_available", f"{landed.url} is not published yet")
    in_use = previous.get("in_use_hash")
    if landed.status == "not_modified" or landed.sha256 in (previous.get("content_hash"), in_use):
        return _unchanged(period, previous, landed)
    return _load(job, period, landed, started)


def _previous(db: Database, period: dt.date) -> dict[str, str]:
    """The last batch seen for ``period`` (in use, or quarantined): its hash and validators.

    A released batch's release row counts as the month's current good data, so an unchanged
    file is not checked (and quarantined) again after an operator accepted it.
    """
    rows = db.dicts(
        "SELECT coalesce(released_batch, batch_id) AS batch_id, content_hash, etag, "
        "last_modified, status FROM load_ledger "
        "WHERE source = ? AND period = ? AND status <> 'failed' ORDER BY finished_at DESC LIMIT 1",
        [SOURCE, period],
    )
    found = {k: v for k, v in rows[0].items() if v is not None} if rows else {}
    in_use = db.scalar(
        "SELECT content_hash FROM source_periods WHERE source = ? AND period = ?", [SOURCE, period]
    )
    if in_use:
        found["in_use_hash"] = in_use
    return found


def _policy(cfg: PoliceUkStreetConfig) -> FetchPolicy:
    return FetchPolicy(cfg.timeout_seconds, cfg.retries, cfg.backoff_seconds, cfg.max_bytes)


def _unchanged(period: dt.date, previous: dict[str, str], landed: Landed) -> MonthOutcome:
    if landed.path is not None:
        landed.path.unlink(missing_ok=True)  # a second copy of a file already landed
    batch_id = previous.get("batch_id")
    if previous.get("status") == "quarantined" and landed.sha256 != previous.get("in_use_hash"):
        return MonthOutcome(period, "quarantined", "unchanged since it was quarantined", batch_id)
    return MonthOutcome(period, "unchanged", "no change since it was loaded", batch_id)


def _load(job: _Job, period: dt.date, landed: Landed, started: dt.datetime) -> MonthOutcome:
    assert landed.path is not None and landed.sha256 is not None
    batch_id = f"{SOURCE}:{job.settings.force.id}:{month_label(period)}:{landed.sha256[:12]}"
    staging = staging_path(job.settings.paths.data_dir, batch_id)
    try:
        results = _check(job, period, landed.path, staging)
    except CheckError as exc:
        # The checks could not run: neither load nor quarantine a month nobody has checked.
        _record_failure(job, period, started, landed.url, str(exc))
        return MonthOutcome(period, "failed", str(exc))
    entry = LedgerEntry(
        batch_id=batch_id,
        run_id=job.run_id,
        source=SOURCE,
        period=period,
        url=landed.url,
        status="quarantined",
        started_at=started,
        finished_at=job.clock(),
        file_path=str(landed.path),
        content_hash=landed.sha256,
        etag=landed.etag,
        last_modified=landed.last_modified,
    )
    errors = [r for r in results if not r.success and r.check.severity is Severity.ERROR]
    if errors:
        return _quarantine(job, entry, results, errors)
    return _promote(job, replace(entry, status="loaded"), staging, results)


def staging_path(data_dir: Path, batch_id: str) -> Path:
    """Where a batch's staged DuckDB file lives while it is checked, and while quarantined."""
    return data_dir / "staging" / f"{batch_id.replace(':', '_')}.duckdb"


def _check(job: _Job, period: dt.date, source: Path, staging: Path) -> list[CheckResult]:
    try:
        staged = stage_csv(source, staging)
    except LoadError as exc:
        failed = parse_result(())
        return [CheckResult(failed.check, False, observed=str(exc))]
    parsed = parse_result(staged.rejects)
    if not parsed.success:
        return [parsed]  # GX on a partial file would only repeat the same story
    cfg = job.cfg
    suite = street_suite(period, cfg.min_rows, cfg.max_rows, job.outcome_labels)
    return [parsed, *run_suite(staging, staged.table, SUITE, suite)]


def _quarantine(
    job: _Job, entry: LedgerEntry, results: list[CheckResult], errors: list[CheckResult]
) -> MonthOutcome:
    reason = f"{entry.file_path}: " + "; ".join(f"{r.check.id} {r.message}" for r in errors)
    entry = replace(entry, error=reason)
    with job.db.transaction():
        record_ledger(job.db, entry)
        record_checks(job.db, entry.batch_id, SUITE, results)
        record_quarantine(job.db, entry, results)
    return MonthOutcome(entry.period, "quarantined", reason, entry.batch_id)


def _promote(
    job: _Job, entry: LedgerEntry, staging: Path, results: list[CheckResult]
) -> MonthOutcome:
    def record_results(db: Database, _: LedgerEntry) -> None:
        record_checks(db, entry.batch_id, SUITE, results)

    done = promote_batch(job.db, job.settings.force, entry, staging, job.clock, record_results)
    message = f"{done.rows:,} rows, {done.outside_area_rows:,} outside the force's areas"
    if done.revision_of:
        message += f" (revises {done.revision_of})"
    return MonthOutcome(done.period, done.status, message, done.batch_id)


def promote_batch(
    db: Database,
    force: ForceConfig,
    entry: LedgerEntry,
    staging: Path,
    clock: Clock,
    also: Callable[[Database, LedgerEntry], None] | None = None,
) -> LedgerEntry:
    """Put a staged batch into use: the one path by which rows reach ``police_street``.

    In one transaction the month's rows are replaced by the staged ones, the ledger row and the
    month's ``source_periods`` row are written, and ``also`` adds the caller's own rows (check
    results, a release stamp). An entry with status ``loaded`` becomes ``revised`` when the
    month already held a batch; any other status (``released``) is kept. The staged file is
    deleted once committed. Raises LoadError naming the staged file if it is missing or cannot
    be promoted; nothing is changed then. Returns the entry as recorded.
    """
    if not staging.is_file():
        raise LoadError(
            f"{staging}: the staged file of {entry.data_batch} is missing; nothing was changed"
        )
    current = db.scalar(
        "SELECT batch_id FROM source_periods WHERE source = ? AND period = ?",
        [entry.source, entry.period],
    )
    try:
        db.attach(staging, "stg")
    except DatabaseError as exc:
        raise LoadError(f"{staging}: cannot open the staged batch: {exc}") from exc
    try:
        with db.transaction():
            rows, outside = _replace_month(db, force, entry)
            entry = replace(
                entry,
                status="revised" if entry.status == "loaded" and current else entry.status,
                rows=rows,
                outside_area_rows=outside,
                revision_of=current,
                finished_at=clock(),
            )
            record_ledger(db, entry)
            _upsert_period(db, entry)
            if also is not None:
                also(db, entry)
    except DatabaseError as exc:
        raise LoadError(f"{staging}: cannot promote {entry.data_batch}: {exc}") from exc
    finally:
        db.detach("stg")
    staging.unlink(missing_ok=True)
    return entry


def _replace_month(db: Database, force: ForceConfig, entry: LedgerEntry) -> tuple[int, int]:
    db.execute(
        "DELETE FROM police_street WHERE force_id = ? AND period = ?", [force.id, entry.period]
    )
    lad_name = LAD_FROM_LSOA_NAME_SQL.format(col='b."LSOA name"')
    db.execute(
        'INSERT INTO police_street SELECT ?, ?, ?, b.record_no, b."Crime ID", b."Month", '
        'b."Reported by", b."Falls within", TRY_CAST(b."Longitude" AS DOUBLE), '
        'TRY_CAST(b."Latitude" AS DOUBLE), b."Location", b."LSOA code", b."LSOA name", '
        'b."Crime type", b."Last outcome category", b."Context", l.lad_code, '
        "CASE WHEN l.pfa_code = ? THEN l.csp_code END "
        f"FROM stg.batch b LEFT JOIN lad_lookup l ON lower(l.lad_name) = {lad_name} "
        "ORDER BY b.record_no",
        [force.id, entry.period, entry.data_batch, force.pfa_code],
    )
    rows, outside = db.rows(
        "SELECT count(*), count(*) FILTER (WHERE csp_code IS NULL) FROM police_street "
        "WHERE force_id = ? AND period = ?",
        [force.id, entry.period],
    )[0]
    return int(rows), int(outside)


def _upsert_period(db: Database, entry: LedgerEntry) -> None:
    db.execute(
        "INSERT OR REPLACE INTO source_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry.source,
            entry.period,
            entry.data_batch,
            entry.content_hash,
            entry.etag,
            entry.last_modified,
            entry.rows,
            entry.outside_area_rows,
        ],
    )


def _record_failure(job: _Job, period: dt.date, started: dt.datetime, url: str, error: str) -> None:
    entry = LedgerEntry(
        batch_id=f"{SOURCE}:{job.settings.force.id}:{month_label(period)}:failed:{job.run_id}",
        run_id=job.run_id,
        source=SOURCE,
        period=period,
        url=url,
        status="failed",
        started_at=started,
        finished_at=job.clock(),
        error=error,
    )
    with job.db.transaction():
        record_ledger(job.db, entry)
