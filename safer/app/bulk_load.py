"""``safer backfill``: years of data.police.uk street and outcomes files, for one force or all,
near DuckDB's own CSV speed.

Month by month, every force's file is one batch, as in a normal run, but the month is handled in
bulk: files in a local folder are read where they lie (gzipped or not) and files over HTTP are
downloaded in parallel; every file's checks run in one aggregate pass (``checks.bulk``: the same
suite a normal run gives Great Expectations); then every file that passed is loaded in one
``INSERT … SELECT`` straight from ``read_csv``, in one transaction with its ledger rows, so a
failure loses only that month. A file that failed an error-level check is quarantined with its
reasons and sample rows, and the force's previous data for that month stays in use. A file whose
content hash is the one in use is not loaded again, so a backfill can be re-run or resumed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from safer.app.promotion import errors_of, hold_back, promote, reason
from safer.app.sources import SOURCES
from safer.checks.bulk import check_files, sample_rows
from safer.checks.models import Check, CheckResult
from safer.checks.parse import PARSES_AS_CSV
from safer.checks.police_outcomes import outcomes_suite
from safer.checks.police_street import street_suite
from safer.kernel.clock import Clock
from safer.kernel.config import PoliceUkMonthlyConfig, Settings
from safer.kernel.errors import FetchError, LoadError
from safer.kernel.layouts import OUTCOME_COLUMNS, STREET_COLUMNS
from safer.kernel.periods import month_label
from safer.pipelines.areas import LAD_FROM_LSOA_NAME_SQL
from safer.pipelines.landing import find_local, land, read_hashing
from safer.pipelines.load_ledger import (
    LedgerEntry,
)
from safer.pipelines.source import Promoted, policy_of, safe_name
from safer.pipelines.staging import read_header
from safer.store.db import Database

__all__ = ["KINDS", "BulkKind", "MonthLoad", "backfill_month"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkKind:
    """One kind of monthly file: its columns, its suite and how its rows are stored."""

    source: str
    kind: str
    table: str
    columns: tuple[str, ...]
    suite: Callable[[dt.date, int, int, tuple[str, ...]], list[Check]]
    suite_name: str
    select: str
    """The stored columns after force_id, period, batch_id, record_no, from ``b`` (the file's
    rows) and ``l`` (its LSOA's local authority)."""


KINDS = {
    "police_uk_street": BulkKind(
        "police_uk_street",
        "street",
        "police_street",
        STREET_COLUMNS,
        street_suite,
        "police_street",
        'b."Crime ID", b."Month", b."Reported by", b."Falls within", '
        'TRY_CAST(b."Longitude" AS DOUBLE), TRY_CAST(b."Latitude" AS DOUBLE), b."Location", '
        'b."LSOA code", b."LSOA name", b."Crime type", b."Last outcome category", b."Context"',
    ),
    "police_uk_outcomes": BulkKind(
        "police_uk_outcomes",
        "outcomes",
        "police_outcomes",
        OUTCOME_COLUMNS,
        outcomes_suite,
        "police_outcomes",
        'b."Crime ID", b."Month", b."Reported by", b."Falls within", '
        'TRY_CAST(b."Longitude" AS DOUBLE), TRY_CAST(b."Latitude" AS DOUBLE), b."Location", '
        'b."LSOA code", b."LSOA name", b."Outcome type"',
    ),
}


@dataclass
class MonthLoad:
    """What a month of a source did, force by force."""

    source: str
    month: dt.date
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0

    @property
    def line(self) -> str:
        """The month's one summary line."""
        parts = [f"{len(self.loaded)} loaded ({self.rows:,} rows)"]
        for name, items in (
            ("unchanged", self.unchanged),
            ("quarantined", self.quarantined),
            ("not published", self.missing),
            ("failed", self.failed),
        ):
            if items:
                shown = ", ".join(items[:5]) + (" …" if len(items) > 5 else "")
                parts.append(f"{len(items)} {name} ({shown})")
        return f"{self.source} {month_label(self.month)}: {'; '.join(parts)} in {self.seconds:.1f}s"


@dataclass(frozen=True)
class _File:
    force: str
    pfa: str
    path: str
    url: str
    sha256: str
    batch_id: str


def backfill_month(
    db: Database,
    settings: Settings,
    kind: BulkKind,
    month: dt.date,
    forces: Mapping[str, str],
    outcome_labels: tuple[str, ...],
    run_id: str,
    clock: Clock,
    jobs: int = 4,
) -> MonthLoad:
    """Load ``month`` of ``kind`` for every force in ``forces`` (force id → PFA code)."""
    started = time.perf_counter()
    cfg = getattr(settings.sources, kind.source)
    assert isinstance(cfg, PoliceUkMonthlyConfig), f"{kind.source} is not configured"
    result = MonthLoad(kind.source, month)
    files = _locate(settings, cfg, kind, month, forces, result, jobs)
    changed = _changed(db, kind, month, files, result)
    headers = _headers(changed, result)
    changed = [f for f in changed if f.path in headers]
    if changed:
        checks = kind.suite(month, cfg.min_rows, cfg.max_rows, outcome_labels)
        totals: dict[str, int] = {}
        # The month's files are read once, into a temporary table in scan order: the checks
        # aggregate over it and the load numbers each file's rows by its rowid. (Reading the
        # files twice, the second time through a row_number() window that runs on one thread,
        # took twice DuckDB's own read.)
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE bulk_scan AS SELECT * FROM {_scan(kind)}",
            [[f.path for f in changed]],
        )
        try:
            results = _check(db, changed, checks, headers, totals)
            _store(db, settings, kind, month, changed, results, totals, run_id, clock, result)
        finally:
            for table in ("bulk_scan", "bulk_rejects", "bulk_rejects_scan", "bulk_files"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
    result.seconds = time.perf_counter() - started
    return result


def _locate(
    settings: Settings,
    cfg: PoliceUkMonthlyConfig,
    kind: BulkKind,
    month: dt.date,
    forces: Mapping[str, str],
    result: MonthLoad,
    jobs: int,
) -> list[_File]:
    """Each force's file for the month, read in place (a folder) or downloaded (a URL)."""
    label = month_label(month)

    def one(force: str) -> _File | None:
        relative = f"{label}/{label}-{force}-{kind.kind}.csv"
        try:
            if "://" in cfg.base_url:
                folder = settings.paths.data_dir / "landing" / kind.source / safe_name(label)
                landed = land(cfg.base_url, relative, folder, policy_of(cfg))
                if landed.status != "ok" or landed.path is None or landed.sha256 is None:
                    return None
                path, url, digest = str(landed.path), landed.url, landed.sha256
            else:
                found = find_local(Path(cfg.base_url), relative)
                if found is None:
                    return None
                # Read where it lies: hashed (and held to the cap) as landing hashes a copy.
                digest, _ = read_hashing(found, cfg.max_bytes)
                path = url = str(found)
        except FetchError as exc:
            result.failed.append(f"{force}: {exc}")
            return None
        batch = f"{kind.source}:{force}:{label}:{digest[:12]}"
        return _File(force, forces[force], path, url, digest, batch)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        found = list(pool.map(one, sorted(forces)))
    failed = {item.split(":", 1)[0] for item in result.failed}
    result.missing += [
        f for f, got in zip(sorted(forces), found, strict=True) if got is None and f not in failed
    ]
    return [f for f in found if f is not None]


def _changed(
    db: Database, kind: BulkKind, month: dt.date, files: list[_File], result: MonthLoad
) -> list[_File]:
    """The files whose content is not the one in use already."""
    in_use = dict(
        db.rows(
            "SELECT force_id, content_hash FROM load_ledger WHERE source = ? AND slot = ? "
            "AND status IN ('loaded', 'revised', 'released') "
            "QUALIFY row_number() OVER (PARTITION BY force_id ORDER BY finished_at DESC) = 1",
            [kind.source, month_label(month)],
        )
    )
    changed = []
    for item in files:
        if in_use.get(item.force) == item.sha256:
            result.unchanged.append(item.force)
        else:
            changed.append(item)
    return changed


def _headers(files: list[_File], result: MonthLoad) -> dict[str, tuple[str, ...]]:
    """Each file's header, by path; a file whose header cannot be read fails, named, and is
    tried again by the next backfill (every check and the load are built on its header)."""
    headers = {}
    for item in files:
        try:
            headers[item.path] = read_header(Path(item.path))
        except (LoadError, OSError, EOFError, zlib.error) as exc:
            result.failed.append(f"{item.force}: {item.path}: {exc}")
    return headers


def _scan(kind: BulkKind) -> str:
    """A ``read_csv`` of the month's files ($1) with the published header as text, every column
    named, strictly parsed, bad lines kept aside (``bulk_rejects``) instead of failing."""
    types = ", ".join(f"'{c}': 'VARCHAR'" for c in kind.columns)
    return (
        f"read_csv($1, columns={{{types}}}, header=true, auto_detect=false, filename=true, "
        "delim=',', quote='\"', escape='\"', strict_mode=true, store_rejects=true, "
        "rejects_table='bulk_rejects', rejects_scan='bulk_rejects_scan')"
    )


def _check(
    db: Database,
    files: list[_File],
    checks: list[Check],
    headers: Mapping[str, tuple[str, ...]],
    totals: dict[str, int],
) -> dict[str, list[CheckResult]]:
    """Every file's results, from ``bulk_scan`` (the month's files, read with rejects kept)."""
    paths = [f.path for f in files]
    results = check_files(db, "bulk_scan", paths, checks, headers, totals)
    broken = _rejected(db)
    for path, found in results.items():
        lines = broken.get(path, 0)
        parsed = CheckResult(PARSES_AS_CSV, lines == 0, unexpected_count=lines)
        results[path] = [parsed, *found]
    for item in files:
        failing = [r for r in results[item.path] if not r.success]
        if broken.get(item.path):
            # Its broken lines are not in bulk_scan, so rows counted there are not the file's
            # lines: the parse failure (with its line numbers) is the reason given.
            continue
        for number, failed in enumerate(failing[:3]):
            sample = sample_rows(db, "bulk_scan", item.path, failed.check)
            failing[number] = replace(failed, sample=sample)
        results[item.path] = [
            next((f for f in failing if f.check.id == r.check.id), r) for r in results[item.path]
        ]
    return results


def _rejected(db: Database) -> dict[str, int]:
    """Broken lines per file, from the rejects tables the scan kept (DuckDB creates them with
    the scan, empty when every line parsed)."""
    rows = db.rows(
        "SELECT s.file_path, count(DISTINCT r.line) FROM bulk_rejects r "
        "JOIN bulk_rejects_scan s USING (scan_id, file_id) GROUP BY 1"
    )
    return {str(path): int(count) for path, count in rows}


def _store(
    db: Database,
    settings: Settings,
    kind: BulkKind,
    month: dt.date,
    files: list[_File],
    results: Mapping[str, list[CheckResult]],
    totals: Mapping[str, int],
    run_id: str,
    clock: Clock,
    result: MonthLoad,
) -> None:
    now = clock()
    good = [f for f in files if not errors_of(results[f.path])]
    held = [
        (replace(entry, error=reason(item.url, results[item.path])), results[item.path])
        for item in files
        if item not in good
        for entry in [_entry(item, month, "quarantined", run_id, now)]
    ]
    with db.transaction():
        hold_back(db, SOURCES[kind.source].suite, held)
        result.quarantined += [item.force for item in files if item not in good]
        if good:
            entries = promote(
                db,
                settings,
                SOURCES[kind.source],
                [_entry(item, month, "loaded", run_id, now) for item in good],
                lambda db: _write(db, kind, month, good, totals),
                {item.batch_id: results[item.path] for item in good},
                now,
                {item.force: item.pfa for item in good},
            )
            result.rows += sum(entry.rows or 0 for entry in entries)
            result.loaded += [f.force for f in good]


def _write(
    db: Database, kind: BulkKind, month: dt.date, good: Sequence[_File], totals: Mapping[str, int]
) -> dict[str, Promoted]:
    """Replace the month's rows of every passing force with its file's, in one statement."""
    db.execute(
        "CREATE OR REPLACE TEMP TABLE bulk_files (filename VARCHAR, force_id VARCHAR, "
        "pfa_code VARCHAR, batch_id VARCHAR, rows BIGINT)"
    )
    db.executemany(
        "INSERT INTO bulk_files VALUES (?, ?, ?, ?, ?)",
        [(f.path, f.force, f.pfa, f.batch_id, totals[f.path]) for f in good],
    )
    replaced = {
        force: tuple(batches)
        for force, batches in db.rows(
            f"SELECT force_id, list(DISTINCT batch_id ORDER BY batch_id) FROM {kind.table} "
            "WHERE period = ? AND force_id IN (SELECT force_id FROM bulk_files) GROUP BY 1",
            [month],
        )
    }
    db.execute(
        f"DELETE FROM {kind.table} WHERE period = ? "
        "AND force_id IN (SELECT force_id FROM bulk_files)",
        [month],
    )
    lad = LAD_FROM_LSOA_NAME_SQL.format(col='b."LSOA name"')
    # bulk_scan holds each file's rows together and in order (DuckDB keeps insertion order):
    # a row's number in its file is its rowid less the file's first.
    db.execute(
        f"INSERT INTO {kind.table} SELECT f.force_id, $1::DATE, f.batch_id, "
        f"b.rowid - o.first + 1, {kind.select}, l.lad_code, "
        "CASE WHEN l.pfa_code = f.pfa_code THEN l.csp_code END "
        "FROM bulk_scan b JOIN bulk_files f ON f.filename = b.filename "
        "JOIN (SELECT filename, min(rowid) AS first FROM bulk_scan GROUP BY filename) o "
        "ON o.filename = b.filename "
        f"LEFT JOIN lad_lookup l ON lower(l.lad_name) = {lad}",
        [month],
    )
    _check_numbering(db, kind, month)
    counts = {
        force: (int(rows), int(outside))
        for force, rows, outside in db.rows(
            f"SELECT force_id, count(*), count(*) FILTER (WHERE csp_code IS NULL) "
            f"FROM {kind.table} WHERE period = ? "
            "AND force_id IN (SELECT force_id FROM bulk_files) GROUP BY 1",
            [month],
        )
    }
    return {
        item.batch_id: Promoted(
            *counts.get(item.force, (0, 0)), (month,), replaced.get(item.force, ())
        )
        for item in good
    }


def _check_numbering(db: Database, kind: BulkKind, month: dt.date) -> None:
    """Every file loaded whole, its rows numbered 1 to its count once each.

    A count that differs from the file's rows means rows were lost or repeated on the way in:
    raise, so the month's transaction rolls back. Numbers that are off mean the scan did not
    keep the files' order: number them again within each file (slower, and still in scan
    order)."""
    found = db.rows(
        f"SELECT f.force_id, f.rows, count(t.record_no), min(t.record_no), max(t.record_no) "
        f"FROM bulk_files f LEFT JOIN {kind.table} t ON t.force_id = f.force_id "
        "AND t.period = ? GROUP BY f.force_id, f.rows",
        [month],
    )
    label = f"{kind.source} {month_label(month)}"
    lost = [
        f"{force}: {n:,} rows stored of {rows:,} read"
        for force, rows, n, _, _ in found
        if n != rows
    ]
    if lost:
        raise LoadError("not loaded: " + "; ".join(lost))
    if any(n and (lo != 1 or hi != n) for _, _, n, lo, hi in found):
        logger.warning("%s: rows renumbered within each file", label)
        db.execute(
            f"UPDATE {kind.table} t SET record_no = n.rn FROM (SELECT rowid AS r, "
            "row_number() OVER (PARTITION BY force_id ORDER BY rowid) AS rn "
            f"FROM {kind.table} WHERE period = $1 "
            "AND force_id IN (SELECT force_id FROM bulk_files)) n WHERE t.rowid = n.r",
            [month],
        )


def _entry(item: _File, month: dt.date, status: str, run_id: str, now: dt.datetime) -> LedgerEntry:
    return LedgerEntry(
        batch_id=item.batch_id,
        run_id=run_id,
        source=item.batch_id.split(":", 1)[0],
        period=month,
        url=item.url,
        status=status,
        started_at=now,
        finished_at=now,
        file_path=item.path,
        content_hash=item.sha256,
        slot=month_label(month),
        periods=(month,),
        force_id=item.force,
    )
