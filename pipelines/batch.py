"""One batch of one source, from fetch to use: land → stage → check → promote or quarantine.

Every source runs the same steps; what differs (which files it wants, how a file is staged,
its checks, how its rows reach its table) is the source's own module (``Source``). A batch is
one landed file. It is promoted only when every error-level check passes, in one transaction
that replaces whatever its periods held before; otherwise it is quarantined with its reasons and
the previous good data stays in use. A quarantined batch's staged file is kept under
``{data_dir}/staging/`` so an operator can release it later (``pipelines.quarantine``), through
the same ``promote_batch``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from checks.models import Check, CheckResult, Severity
from checks.parse import parse_result
from pipelines.db import Database, DatabaseError, connect_staging, local_fault, remove_staging
from pipelines.http import FetchPolicy
from pipelines.landing import Landed, land
from pipelines.ledger import LedgerEntry, record_checks, record_ledger, record_quarantine
from pipelines.staging import Staged
from safer import faults, stopping
from safer.config import FetchConfig, Settings
from safer.errors import CheckError, FetchError, LoadError, LocalFault
from safer.periods import Grain

__all__ = [
    "BatchOutcome",
    "Clock",
    "FileSet",
    "Promoted",
    "Source",
    "SourceContext",
    "SyncFiles",
    "Wanted",
    "policy_of",
    "promote_batch",
    "refetch",
    "safe_name",
    "staging_path",
    "sync_source",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Wanted:
    """One file a source wants this run."""

    slot: str
    """The file's identity over time: ``2025-06`` for a monthly file, a return's file name."""
    relative: str
    """Where it is under the source's base URL or folder."""
    period: dt.date | None = None
    """The period the file holds, when that is known before reading it."""


@dataclass(frozen=True)
class Promoted:
    """What promoting a batch did to its source table."""

    rows: int
    outside_area_rows: int
    periods: tuple[dt.date, ...]
    replaced: tuple[str, ...] = ()
    """Batches whose rows this one replaced: a non-empty tuple makes the load a revision."""


@dataclass(frozen=True)
class BatchOutcome:
    source: str
    slot: str
    period: dt.date | None
    outcome: str
    """loaded | revised | unchanged | not_yet_available | quarantined | failed, or for the API
    checked | unavailable (a run then tries every wanted month), or for a return (a file set)
    withdrawn | conflict | reinstated (``pipelines.return_set``)."""
    message: str
    batch_id: str | None = None
    unreachable: bool = False
    """The fetch failed in a way that retrying later may mend (connection refused, 5xx after the
    retries): the source's remaining files are not tried this run."""


@dataclass(frozen=True)
class SourceContext:
    """What a source needs to know about the run besides its database."""

    settings: Settings
    run_id: str
    as_of: dt.date
    clock: Clock
    outcome_labels: tuple[str, ...] = ()
    available: Mapping[str, frozenset[dt.date]] | None = None
    """Per source, the months data.police.uk's API lists as published; None when it was not
    asked (every wanted month is tried)."""
    nothing_new: bool = False
    """The API says nothing changed since the last complete sync: revisit nothing."""


@dataclass(frozen=True)
class Reference:
    """A small table written into a staging file beside the batch, for checks that compare
    the file with what is in use (the version it would replace, the force's areas)."""

    columns: tuple[str, ...]
    """Column definitions: ``("rows BIGINT", "asb_rows BIGINT")``."""
    rows: tuple[tuple[object, ...], ...]


@runtime_checkable
class Referenced(Protocol):
    """A source whose checks read what is in use: it names the tables they need."""

    def references(
        self, db: Database, settings: Settings, wanted: Wanted
    ) -> dict[str, Reference]: ...


class Source(Protocol):
    """A pipeline: one module under ``pipelines/`` per source, registered in ``sources.py``."""

    # Read-only, so a frozen dataclass satisfies it.
    @property
    def id(self) -> str: ...

    @property
    def label(self) -> str:
        """The source in an officer's words, for "Data missing" sentences."""

    @property
    def suite(self) -> str:
        """The name of its checks suite (``checks/<suite>.py``)."""

    @property
    def table(self) -> str:
        """The table its batches are promoted into."""

    @property
    def grain(self) -> Grain: ...

    @property
    def area_level(self) -> str:
        """``csp`` when rows are located in partnerships, ``force`` when figures are
        force-wide."""

    @property
    def zero_fill(self) -> bool:
        """Whether an area with no rows in a loaded period counts as zero (a whole-force file)
        or as missing (a return each partnership sends)."""

    def config(self, settings: Settings) -> FetchConfig | None:
        """The source's settings, or None when it is not configured (or turned off)."""

    def base(self, settings: Settings) -> str:
        """The URL or folder its files are under."""

    def wanted(self, db: Database, ctx: SourceContext) -> list[Wanted]:
        """The files to bring up to date this run, oldest first."""

    def stage(self, landed: Path, staging: Path, wanted: Wanted) -> Staged:
        """Read the landed file into ``staging``; raises LoadError naming the file as its
        publisher or sender knows it (``wanted.slot`` for a return)."""

    def checks(self, ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
        """The checks per staged table; error-level failures quarantine the batch."""

    def periods(self, staged: Staged, wanted: Wanted) -> tuple[dt.date, ...]:
        """The periods the staged file holds, as far as they can be read."""

    def promote(self, db: Database, settings: Settings, entry: LedgerEntry) -> Promoted:
        """Replace the batch's periods in the source table from ``stg`` (attached, in a
        transaction); raises DatabaseError."""

    def due(self, settings: Settings, period: dt.date) -> dt.date:
        """The day a period's release is due."""

    def expected(self, db: Database, settings: Settings, as_of: dt.date) -> list[dt.date]:
        """Periods that should be in use by now (whose absence is missing data)."""


SyncFiles = Callable[[Sequence[Wanted], bool], list[BatchOutcome]]
"""Brings the given files of a source up to date, one outcome per file in order; read anew
(whatever was loaded before) when the flag is set."""


@runtime_checkable
class FileSet(Protocol):
    """A source whose figures are those of the files present now (a folder of returns): it
    brings the whole set up to date around ``sync``, withdrawing the figures of files that are
    gone (``pipelines.return_set``)."""

    def sync_set(
        self, db: Database, ctx: SourceContext, files: list[Wanted], sync: SyncFiles
    ) -> list[BatchOutcome]: ...


def policy_of(cfg: FetchConfig) -> FetchPolicy:
    return FetchPolicy(cfg.timeout_seconds, cfg.retries, cfg.backoff_seconds, cfg.max_bytes)


def safe_name(text: str) -> str:
    """``text`` as one file name: no folder separators, no leading dot, nothing exotic."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".")
    return cleaned[:150] or "_"


def staging_path(data_dir: Path, batch_id: str) -> Path:
    """Where a batch's staged DuckDB file lives while it is checked, and while quarantined."""
    return data_dir / "staging" / f"{safe_name(batch_id.replace(':', '_'))}.duckdb"


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
    errors = [r for r in results if not r.success and r.check.severity is Severity.ERROR]
    faults.point("batch.checked")
    if errors:
        return _quarantine(db, source, entry, results, errors)
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
    from checks.gx_runner import run_suite  # GX only when there is a batch to check

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
    if isinstance(source, Referenced):
        _write_references(staged.path, source.references(db, ctx.settings, wanted))
    for table, checks in source.checks(ctx, wanted, staged).items():
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
    errors: list[CheckResult],
) -> BatchOutcome:
    reason = f"{entry.file_path}: " + "; ".join(f"{r.check.id} {r.message}" for r in errors)
    entry = replace(entry, error=reason)
    with db.transaction():
        record_ledger(db, entry)
        record_checks(db, entry.batch_id, source.suite, results)
        record_quarantine(db, entry, results)
    return BatchOutcome(
        source.id, entry.slot or "", entry.period, "quarantined", reason, entry.batch_id
    )


def _promote(
    db: Database,
    source: Source,
    ctx: SourceContext,
    entry: LedgerEntry,
    staging: Path,
    results: list[CheckResult],
) -> BatchOutcome:
    def record_results(db: Database, _: LedgerEntry) -> None:
        record_checks(db, entry.batch_id, source.suite, results)

    done = promote_batch(db, ctx.settings, source, entry, staging, ctx.clock, record_results)
    message = f"{done.rows:,} rows"
    if source.area_level == "csp":
        message += f", {done.outside_area_rows:,} outside the force's areas"
    if done.revision_of:
        message += f" (revises {done.revision_of})"
    return BatchOutcome(
        source.id, entry.slot or "", done.period, done.status, message, done.batch_id
    )


def promote_batch(
    db: Database,
    settings: Settings,
    source: Source,
    entry: LedgerEntry,
    staging: Path,
    clock: Clock,
    also: Callable[[Database, LedgerEntry], None] | None = None,
) -> LedgerEntry:
    """Put a staged batch into use: the one path by which rows reach a source table.

    In one transaction the source replaces its periods' rows by the staged ones, the ledger row
    and the periods' ``source_periods`` rows are written, and ``also`` adds the caller's own rows
    (check results, a release stamp). An entry with status ``loaded`` becomes ``revised`` when it
    replaced rows already in use; any other status (``released``) is kept. The staged file is
    deleted once committed. Raises LoadError naming the staged file if it is missing or cannot
    be promoted; nothing is changed then. Returns the entry as recorded.
    """
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
            done = source.promote(db, settings, entry)
            replaced = ", ".join(b for b in done.replaced if b != entry.data_batch) or None
            entry = replace(
                entry,
                status="revised" if entry.status == "loaded" and replaced else entry.status,
                rows=done.rows,
                outside_area_rows=done.outside_area_rows,
                revision_of=replaced,
                periods=done.periods,
                period=max(done.periods, default=entry.period),
                finished_at=clock(),
            )
            record_ledger(db, entry)
            _upsert_periods(db, source, entry, settings.force.pfa_code)
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


def _upsert_periods(db: Database, source: Source, entry: LedgerEntry, pfa_code: str) -> None:
    """Each period the batch holds is in use, with its rows as the source table now counts them
    (a return's quarter may hold several partnerships' files), for this force and in the
    configured force's view (``source_periods``)."""
    # A table with a force column (data.police.uk's) holds every force's rows in a national
    # database: count this force's.
    national = _has_force_column(db, source.table)
    for period in entry.periods or ():
        counts = db.rows(
            f"SELECT count(*), {_outside_sql(source)} FROM {source.table} WHERE period = ?"
            + (" AND force_id = ?" if national else ""),
            [period, *([entry.force_id] if national else [])],
        )[0]
        db.execute(
            "INSERT OR REPLACE INTO force_periods VALUES (?, ?, ?, ?, ?, ?)",
            [entry.source, pfa_code, period, entry.data_batch, int(counts[0]), int(counts[1])],
        )
        db.execute(
            "INSERT OR REPLACE INTO source_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry.source,
                period,
                entry.data_batch,
                entry.content_hash,
                entry.etag,
                entry.last_modified,
                int(counts[0]),
                int(counts[1]),
            ],
        )


def _has_force_column(db: Database, table: str) -> bool:
    return bool(
        db.scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_catalog = current_database() AND table_name = ? "
            "AND column_name = 'force_id'",
            [table],
        )
    )


def _outside_sql(source: Source) -> str:
    if source.area_level == "csp" and source.zero_fill:
        return "count(*) FILTER (WHERE csp_code IS NULL)"
    return "0"


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
