"""Where check results are kept: one row per check per batch in ``check_results``, written by
the batch life cycle, the backfill and the figures gate alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safer.checks.models import CheckResult
from safer.store.db import Database

__all__ = ["record_checks", "record_checks_many"]


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
