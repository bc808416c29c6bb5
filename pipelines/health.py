"""Each source's health across runs: a failing source is retried with backoff, and a streak of
failures is what the operator is told about.

A source fails a run when any of its files failed (or it crashed); anything else, including
"not yet published", is a success. After a failure that later runs may mend (the source
unreachable: refused connections, 5xx after the retries, a full disk here) it is not tried again
for ``source_backoff_minutes``, doubling with each failure in a row up to a day, so a source that
is down is not hammered by every run and does not slow the others. A file refused for what it is
(over the size cap, an HTML page) backs nothing off: the source's other files still load at the
next run, and the refused one is reported again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from safer.pipelines.source import BatchOutcome
from safer.store.db import Database

__all__ = ["Health", "backing_off", "record_health", "source_health"]

MAX_BACKOFF = dt.timedelta(days=1)


@dataclass(frozen=True)
class Health:
    source: str
    consecutive_failures: int
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    last_error: str | None
    next_attempt_at: dt.datetime | None


def source_health(db: Database) -> dict[str, Health]:
    return {
        row[0]: Health(*row)
        for row in db.rows(
            "SELECT source, consecutive_failures, last_success_at, last_failure_at, last_error, "
            "next_attempt_at FROM source_health ORDER BY source"
        )
    }


def backing_off(db: Database, source: str, now: dt.datetime) -> BatchOutcome | None:
    """An outcome saying the source is skipped this run, or None when it is due."""
    found = source_health(db).get(source)
    if found is None or found.next_attempt_at is None or found.next_attempt_at <= now:
        return None
    message = (
        f"skipped: failed {found.consecutive_failures} runs in a row (last: {found.last_error}); "
        f"next tried after {found.next_attempt_at:%Y-%m-%d %H:%M %Z}"
    )
    return BatchOutcome(source, "*", None, "backing_off", message)


def record_health(
    db: Database,
    sources: Sequence[str],
    outcomes: Sequence[BatchOutcome],
    now: dt.datetime,
    backoff_minutes: float,
) -> dict[str, int]:
    """Update each source tried this run; returns its failures in a row (0 after a success)."""
    streaks: dict[str, int] = {}
    before = source_health(db)
    with db.transaction():
        for source in sources:
            mine = [o for o in outcomes if o.source == source]
            if any(o.outcome == "backing_off" for o in mine):
                continue
            failed = [o for o in mine if o.outcome == "failed"]
            previous = before.get(source)
            if failed:
                down = any(o.unreachable for o in failed)
                count = (previous.consecutive_failures if previous else 0) + 1
                wait = dt.timedelta(minutes=backoff_minutes * 2 ** (count - 1))
                db.execute(
                    "INSERT OR REPLACE INTO source_health VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        source,
                        count,
                        previous.last_success_at if previous else None,
                        now,
                        failed[0].message[:500],
                        now + min(wait, MAX_BACKOFF) if backoff_minutes and down else None,
                    ],
                )
            else:
                count = 0
                db.execute(
                    "INSERT OR REPLACE INTO source_health VALUES (?, 0, ?, ?, ?, NULL)",
                    [
                        source,
                        now,
                        previous.last_failure_at if previous else None,
                        previous.last_error if previous else None,
                    ],
                )
            streaks[source] = count
    return streaks
