"""The gate between the loaded figures and the digest: the cross-source suite and its flags.

The suite runs only when what it looks at has changed since its last run (a fingerprint over
the observations and source months), so a run with nothing new never imports Great
Expectations. Its flags are kept in ``data_flags`` and used until the next suite run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from safer.checks.cross_source import (
    SUITE,
    TABLE,
    CrossSourceLimits,
    Formatter,
    build_check_file,
    cross_source_suite,
    failing_rows,
    fingerprint,
    flags_from,
)
from safer.checks.gx_runner import run_suite
from safer.checks.models import Check, DataFlag, Severity
from safer.checks.results import record_checks
from safer.kernel.errors import CheckError
from safer.store.db import Database

__all__ = ["GateInput", "GateOutcome", "check_figures", "stored_flags"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateOutcome:
    outcome: str
    """checked | unchanged | broken."""
    flags: tuple[DataFlag, ...]
    message: str = ""


@dataclass(frozen=True)
class GateInput:
    pfa_code: str
    units: Mapping[str, str]
    """Indicator id → unit, for every indicator with a source."""
    limits: CrossSourceLimits
    area_names: Mapping[str, str]
    fmt: Formatter
    staging_dir: Path
    located: tuple[tuple[str, str], ...] = (("police_uk_street", "police_street"),)
    """(source, table) of each whole-force source whose rows are placed in partnerships."""


def check_figures(
    db: Database,
    given: GateInput,
    run_id: str,
    now: dt.datetime,
    suite: Sequence[Check] | None = None,
) -> GateOutcome:
    """Run the cross-source suite if anything it looks at changed; never raises CheckError.

    A suite that cannot run is "broken": reported, and neither a pass nor a fail, so the
    previous flags are not replaced. ``suite`` replaces the standard checks (for tests and
    for forces adding their own).
    """
    units = dict(given.units)
    checks = list(suite) if suite is not None else cross_source_suite(given.limits)
    stamp = fingerprint(db, units, checks)
    last = db.scalar("SELECT fingerprint FROM data_flag_runs ORDER BY checked_at DESC LIMIT 1")
    if last == stamp:
        return GateOutcome("unchanged", stored_flags(db))
    given.staging_dir.mkdir(parents=True, exist_ok=True)
    path = given.staging_dir / f"{SUITE}-{run_id}.duckdb"
    try:
        build_check_file(db, path, given.pfa_code, units, given.located)
        results = run_suite(path, TABLE, SUITE, checks)
        flags = [
            flag
            for result in results
            if not result.success
            for flag in flags_from(
                result.check, failing_rows(path, result.check), given.fmt, given.area_names
            )
        ]
    except CheckError as exc:
        logger.error("cross-source checks could not run: %s", exc)
        return GateOutcome("broken", stored_flags(db), str(exc))
    finally:
        path.unlink(missing_ok=True)
    batch_id = f"{SUITE}-{run_id}"
    with db.transaction():
        record_checks(db, batch_id, SUITE, results)
        db.execute("DELETE FROM data_flags")
        db.executemany(
            "INSERT INTO data_flags VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    f.check_id,
                    f.severity.value,
                    f.indicator_id,
                    f.source,
                    f.area_code,
                    f.period,
                    f.sentence,
                )
                for f in flags
            ],
        )
        db.execute("INSERT INTO data_flag_runs VALUES (?, ?, ?, ?)", [run_id, batch_id, stamp, now])
    failed = sum(1 for r in results if not r.success)
    return GateOutcome("checked", tuple(flags), f"{len(results)} checks, {failed} failed")


def stored_flags(db: Database) -> tuple[DataFlag, ...]:
    rows = db.rows(
        "SELECT check_id, severity, period, sentence, indicator_id, source, area_code "
        "FROM data_flags ORDER BY ALL"
    )
    return tuple(
        DataFlag(check, Severity(severity), period, sentence, indicator, source, area)
        for check, severity, period, sentence, indicator, source, area in rows
    )
