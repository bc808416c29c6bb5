"""One batch of one source, from fetch to use: land → stage → check → promote or quarantine.

Every source runs the same steps; what differs (which files it wants, how a file is staged,
how its rows reach its table) is the source's own module (``Source``), and its checks are the
suite ``safer.app.sources`` registers with it. A batch is one landed file. It is promoted only
when every error-level check passes, in one transaction that replaces whatever its periods held
before; otherwise it is quarantined with its reasons and the previous good data stays in use.
Both go through ``safer.app.promotion``, the path a backfill's months take too. A quarantined
batch's staged file is kept under ``{data_dir}/staging/`` so an operator can release it later
(``safer.app.quarantine``), through the same ``promote_batch``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from safer.app.promotion import errors_of, hold_back, promote_batch, reason
from safer.app.sources import REFERENCES, SUITES
from safer.checks.models import CheckResult
from safer.checks.parse import parse_result
from safer.kernel import faults, stopping
from safer.kernel.errors import CheckError, FetchError, LoadError, LocalFault
from safer.pipelines.landing import Landed, land
from safer.pipelines.load_ledger import LedgerEntry, record_ledger
from safer.pipelines.source import (
    BatchOutcome,
    FileSet,
    Reference,
    Source,
    SourceContext,
    Wanted,
    policy_of,
    safe_name,
    staging_path,
)
from safer.store.db import Database, DatabaseError, connect_staging, local_fault, remove_staging

__all__ = ["refetch", "sync_source"]

logger = logging.getLogger(__name__)


def sync_source(db: Database, source: Source, ctx: SourceContext) -> list[BatchOutcome]:
    """Bring every file the source wants up to date; one outcome per file, oldest first (for a
    file set, the files withdrawn first)."""
    files = source.wanted(db, ctx)

    def sync(chosen: Sequence[Wanted], anew: bool) -> list[BatchOutcome]:
        return _sync_files(db, source, ctx, chosen, anew=anew)

    if isinstance(source, FileSet):
        return source.sync_set(db, ctx, files, sync)
    return sync(files, False)


def _sync_files(
    db: Database, source: Source, ctx: SourceContext, files: Sequence[Wanted], *, anew: bool
) -> list[BatchOutcome]:
    outcomes = []
    for index, wanted in enumerate(files, start=1):
        if stopping.requested():
            break  # each file is its own transaction: stopping between files loses nothing
        outcome = _sync_file(db, source, ctx, wanted, anew=anew)
        logger.info(
            "%s %s [%d/%d]: %s: %s",
            source.id,
            wanted.slot,
            index,
            len(files),
            outcome.outcome,
            outcome.message,
        )
        outcomes.append(outcome)
        if outcome.unreachable and index < len(files):
            # Every further file would wait out the same retries: leave them to a later run.
            left = len(files) - index
            logger.warning("%s: unreachable; %d more files left for a later run", source.id, left)
            break
    return outcomes


def refetch(db: Database, source: Source, ctx: SourceContext, slot: str) -> BatchOutcome | None:
    """Fetch the file ``slot`` whole and check it anew, whatever was quarantined before (``safer
    quarantine refetch``); None when the source no longer wants that file (a return removed
    from its folder, a month outside the configured ones)."""
    wanted = next((w for w in source.wanted(db, ctx) if w.slot == slot), None)
    return None if wanted is None else _sync_file(db, source, ctx, wanted, anew=True)


def _sync_file(
    db: Database, source: Source, ctx: SourceContext, wanted: Wanted, *, anew: bool = False
) -> BatchOutcome:
    cfg = source.config(ctx.settings)
    assert cfg is not None, f"{source.id} is not configured"
    started = ctx.clock()
    base = source.base(ctx.settings)
    previous = {} if anew else _previous(db, source.id, wanted.slot, ctx.settings.force.id)
    folder = ctx.settings.paths.data_dir / "landing" / source.id / safe_name(wanted.slot)
    url = f"{base.rstrip('/')}/{wanted.relative}"
    try:
        landed = land(
            base,
            wanted.relative,
            folder,
            policy_of(cfg),
            etag=previous.get("etag"),
            last_modified=previous.get("last_modified"),
        )
    except (LocalFault, OSError) as exc:
        return _local_failure(db, source, ctx, wanted, started, url, exc, ())
    except FetchError as exc:
        _record_failure(db, source, ctx, wanted, started, url, str(exc))
        return BatchOutcome(
            source.id, wanted.slot, wanted.period, "failed", str(exc), unreachable=exc.transient
        )
    if landed.status == "not_found":
        message = f"{landed.url} is not published yet"
        return BatchOutcome(source.id, wanted.slot, wanted.period, "not_yet_available", message)
    in_use = previous.get("in_use_hash")
    if landed.status == "not_modified" or landed.sha256 in (previous.get("content_hash"), in_use):
        return _unchanged(source, wanted, previous, landed)
    return _load(db, source, ctx, wanted, landed, started)


def _previous(db: Database, source: str, slot: str, force: str) -> dict[str, Any]:
    """The slot's last batch (in use, or quarantined): its hash, and the hash and validators
    of the batch in use. A release row counts as the slot's good data, so an unchanged file is
    not checked (and quarantined) again after an operator accepted it.

    The conditional GET sends only the validators of the batch in use: a 304 then means "what
    you hold is current". Sent for a quarantined batch, a 304 would hide the file for good
    behind a batch that was never promoted; it is fetched whole and its hash compared instead.
    """
    rows = db.dicts(
        "SELECT coalesce(released_batch, batch_id) AS batch_id, content_hash, status, period "
        "FROM load_ledger WHERE source = ? AND slot = ? "
        "AND coalesce(force_id, ?) = ? AND status <> 'failed' ORDER BY finished_at DESC LIMIT 1",
        [source, slot, force, force],
    )
    found = {k: v for k, v in rows[0].items() if v is not None} if rows else {}
    in_use = db.dicts(
        "SELECT content_hash AS in_use_hash, etag, last_modified FROM load_ledger "
        "WHERE source = ? AND slot = ? AND coalesce(force_id, ?) = ? "
        "AND status IN ('loaded', 'revised', 'released', 'withdrawn') "
        "ORDER BY finished_at DESC LIMIT 1",
        [source, slot, force, force],
    )
    if in_use:
        found |= {k: v for k, v in in_use[0].items() if v is not None}
    return found


def _unchanged(
    source: Source, wanted: Wanted, previous: Mapping[str, Any], landed: Landed
) -> BatchOutcome:
    if landed.path is not None:
        landed.path.unlink(missing_ok=True)  # a second copy of a file already landed
    batch_id = previous.get("batch_id")
    period = wanted.period or previous.get("period")
    if previous.get("status") == "quarantined" and landed.sha256 != previous.get("in_use_hash"):
        message = "unchanged since it was quarantined"
        return BatchOutcome(source.id, wanted.slot, period, "quarantined", message, batch_id)
    message = "no change since it was loaded"
    return BatchOutcome(source.id, wanted.slot, period, "unchanged", message, batch_id)


def _load(
    db: Database,
    source: Source,
    ctx: SourceContext,
    wanted: Wanted,
    landed: Landed,
    started: dt.datetime,
) -> BatchOutcome:
    assert landed.path is not None and landed.sha256 is not None
    force = ctx.settings.force.id
    batch_id = f"{source.id}:{force}:{wanted.slot}:{landed.sha256[:12]}"
    staging = staging_path(ctx.settings.paths.data_dir, batch_id)
    try:
        results, periods = _check(db, source, ctx, wanted, landed.path, staging)
    except (LocalFault, OSError) as exc:
        paths = (landed.path, staging)
        return _local_failure(db, source, ctx, wanted, started, landed.url, exc, paths)
    except CheckError as exc:
        # The checks could not run: neither load nor quarantine a file nobody has checked.
        _record_failure(db, source, ctx, wanted, started, landed.url, str(exc))
        return BatchOutcome(source.id, wanted.slot, wanted.period, "failed", str(exc))
    entry = LedgerEntry(
        batch_id=batch_id,
        run_id=ctx.run_id,
        source=source.id,
        period=max(periods, default=wanted.period),
        url=landed.url,
        status="quarantined",
        started_at=started,
        finished_at=ctx.clock(),
        file_path=str(landed.path),
        content_hash=landed.sha256,
        etag=landed.etag,
        last_modified=landed.last_modified,
        slot=wanted.slot,
        periods=periods,
        force_id=ctx.settings.force.id,
    )
    faults.point("batch.checked")
    if errors_of(results):
        return _quarantine(db, source, entry, results)
    try:
        return _promote(db, source, ctx, replace(entry, status="loaded"), staging, results)
    except LocalFault as exc:
        paths = (landed.path, staging)
        return _local_failure(db, source, ctx, wanted, started, landed.url, exc, paths)


def _check(
    db: Database,
    source: Source,
    ctx: SourceContext,
    wanted: Wanted,
    landed: Path,
    staging: Path,
) -> tuple[list[CheckResult], tuple[dt.date, ...]]:
    """Stage the file and run its suites; the results and the periods the file holds."""
    from safer.checks.gx_runner import run_suite

    try:
        staged = source.stage(landed, staging, wanted)
    except LoadError as exc:
        failed = parse_result(())
        return [CheckResult(failed.check, False, observed=str(exc))], _known(wanted)
    periods = source.periods(staged, wanted) or _known(wanted)
    faults.point("batch.staged")
    parsed = parse_result(staged.rejects)
    if not parsed.success:
        return [parsed], periods  # GX on a partial file would only repeat the same story
    results = [parsed]
    references = REFERENCES.get(source.id)
    if references is not None:
        _write_references(staged.path, references(db, ctx.settings, wanted))
    for table, checks in SUITES[source.id](ctx, wanted, staged).items():
        results += run_suite(staged.path, table, f"{source.suite}_{table}", checks)
    return results, periods


def _write_references(staging: Path, tables: Mapping[str, Reference]) -> None:
    """Write each reference table into the staging file, for the suite to read."""
    try:
        with connect_staging(staging) as stg:
            for name, table in tables.items():
                stg.execute(f"CREATE OR REPLACE TABLE {name} ({', '.join(table.columns)})")
                if table.rows:
                    marks = ", ".join("?" * len(table.columns))
                    stg.executemany(f"INSERT INTO {name} VALUES ({marks})", list(table.rows))
    except DatabaseError as exc:
        raise local_fault(exc, staging) or CheckError(
            f"{staging}: cannot write the reference tables: {exc}"
        ) from exc


def _known(wanted: Wanted) -> tuple[dt.date, ...]:
    return () if wanted.period is None else (wanted.period,)


def _quarantine(
    db: Database,
    source: Source,
    entry: LedgerEntry,
    results: list[CheckResult],
) -> BatchOutcome:
    entry = replace(entry, error=reason(entry.file_path or entry.url, results))
    with db.transaction():
        hold_back(db, source.suite, [(entry, results)])
    return BatchOutcome(
        source.id, entry.slot or "", entry.period, "quarantined", entry.error or "", entry.batch_id
    )


def _promote(
    db: Database,
    source: Source,
    ctx: SourceContext,
    entry: LedgerEntry,
    staging: Path,
    results: list[CheckResult],
) -> BatchOutcome:
    done = promote_batch(db, ctx.settings, source, entry, staging, ctx.clock, results)
    message = f"{done.rows:,} rows"
    if source.area_level == "csp":
        message += f", {done.outside_area_rows:,} outside the force's areas"
    if done.revision_of:
        message += f" (revises {done.revision_of})"
    return BatchOutcome(
        source.id, entry.slot or "", done.period, done.status, message, done.batch_id
    )


def _local_failure(
    db: Database,
    source: Source,
    ctx: SourceContext,
    wanted: Wanted,
    started: dt.datetime,
    url: str,
    exc: BaseException,
    paths: Sequence[Path],
) -> BatchOutcome:
    """A fault writing or reading our own files (a full disk): the unit fails as a job error,
    whatever it left is removed, and nothing is recorded that a later run would take for the
    file (a failed ledger row is ignored by ``_previous``), so the next run fetches it again.
    The source's other files are left for that run too: they would meet the same disk."""
    for path in paths:
        with contextlib.suppress(OSError):
            remove_staging(path)  # the landed file has no log beside it: a no-op for it
    fault = local_fault(exc, paths[-1] if paths else Path(url)) or LocalFault(str(exc))
    message = (
        f"a fault on this machine, not in the file: {fault}; nothing was kept, and the next run "
        "fetches the file again"
    )
    logger.error("%s %s: %s", source.id, wanted.slot, message)
    _record_failure(db, source, ctx, wanted, started, url, message)
    return BatchOutcome(source.id, wanted.slot, wanted.period, "failed", message, unreachable=True)


def _record_failure(
    db: Database,
    source: Source,
    ctx: SourceContext,
    wanted: Wanted,
    started: dt.datetime,
    url: str,
    error: str,
) -> None:
    entry = LedgerEntry(
        batch_id=f"{source.id}:{ctx.settings.force.id}:{wanted.slot}:failed:{ctx.run_id}",
        run_id=ctx.run_id,
        source=source.id,
        period=wanted.period,
        url=url,
        status="failed",
        started_at=started,
        finished_at=ctx.clock(),
        error=error,
        slot=wanted.slot,
        periods=_known(wanted),
        force_id=ctx.settings.force.id,
    )
    with db.transaction():
        record_ledger(db, entry)
