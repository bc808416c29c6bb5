"""What keeps the job from doing its work while it still runs: the conditions an operator must
hear about whatever the last run's exit code said.

Each condition (a database that fails its checks, a source skipped while it backs off, a
quarantined batch still withholding figures, digests refused or waiting too long) keeps
``safer status --check`` unhealthy for as long as it holds, is logged by every run it persists
through, and raises one operator alert: its key names the episode (the batch, the failure streak,
the oldest digest), so a condition that persists is told once and a new episode is told again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from safer.app.integrity import verify
from safer.app.quarantine import list_batches
from safer.app.sources import configured
from safer.kernel.config import Settings
from safer.kernel.logs import printable
from safer.pipelines.health import source_health
from safer.pipelines.return_set import return_conflicts
from safer.store.db import Database

__all__ = ["Condition", "conditions"]


@dataclass(frozen=True)
class Condition:
    key: str
    """The episode, for the one operator alert it raises."""
    kind: str
    """``database`` | ``source_skipped`` | ``quarantined`` | ``digests_refused`` |
    ``digests_waiting`` | ``return_conflict``: what a run's exit code makes of it."""
    text: str
    """One line for ``safer status``, the log and the alert's subject."""


def conditions(
    db: Database, settings: Settings, now: dt.datetime, *, database: bool = True
) -> list[Condition]:
    """Every condition holding now, the gravest first; without the database's own check when
    ``database`` is False (a run verified it before it began: reading every table is the one
    costly check, done once per run)."""
    return [
        *(_database(db) if database else []),
        *_skipped(db, settings, now),
        *_withholding(db, settings),
        *_conflicting(db, settings),
        *_undelivered(db, settings, now),
    ]


def _database(db: Database) -> list[Condition]:
    found = verify(db)
    if not found:
        return []
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    key = hashlib.sha256(found[0].encode()).hexdigest()[:12]
    return [Condition(f"database:{key}", "database", f"{found[0]}{more}: run `safer doctor`")]


def _skipped(db: Database, settings: Settings, now: dt.datetime) -> list[Condition]:
    health = source_health(db)
    found = []
    for source in configured(settings):
        mine = health.get(source.id)
        if mine is None or mine.next_attempt_at is None or mine.next_attempt_at <= now:
            continue
        streak = mine.last_success_at.isoformat() if mine.last_success_at else "never"
        found.append(
            Condition(
                f"source_skipped:{source.id}:{streak}",
                "source_skipped",
                f"{source.id} is skipped until {mine.next_attempt_at:%Y-%m-%d %H:%M %Z}: it "
                f"failed {mine.consecutive_failures} runs in a row (last: {mine.last_error})",
            )
        )
    return found


def _withholding(db: Database, settings: Settings) -> list[Condition]:
    """Quarantined batches that are the latest of their file (a later file supersedes one),
    of this force (a national database holds every force's)."""
    return [
        Condition(
            f"quarantined:{batch.batch_id}",
            "quarantined",
            f"{batch.batch_id} is in quarantine and the figures of its periods are withheld: "
            f"`safer quarantine show {batch.batch_id}`, then release or refetch it",
        )
        for batch in list_batches(db)
        if batch.superseded_by is None and batch.force_id in (None, settings.force.id)
    ]


def _conflicting(db: Database, settings: Settings) -> list[Condition]:
    """Returns whose present files claim the same area and period: one condition per set of
    files (the episode ends when one of them is removed), naming the first pair held."""
    grains = {source.id: source.grain for source in configured(settings)}
    held: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for conflict in return_conflicts(db, force_id=settings.force.id):
        grain = grains.get(conflict.source)
        if grain is None:
            continue
        pairs = held.setdefault((conflict.source, conflict.files), [])
        pairs.append(conflict.sentence(grain))
    found = []
    for (source, files), sentences in held.items():
        key = hashlib.sha256("\0".join(files).encode()).hexdigest()[:12]
        more = f" (and {len(sentences) - 1} more area-periods)" if len(sentences) > 1 else ""
        text = printable(f"{source}: {sentences[0]}{more}")
        found.append(Condition(f"return_conflict:{source}:{key}", "return_conflict", text))
    return found


def _undelivered(db: Database, settings: Settings, now: dt.datetime) -> list[Condition]:
    limit = dt.timedelta(hours=settings.operator.undelivered_hours)
    found = []
    for status, count, oldest, error, run_id in db.rows(
        "SELECT status = 'failed', count(*), arg_min(digest_id, created_at), "
        "arg_max(last_error, created_at), arg_min(run_id, created_at) FROM outbox "
        "WHERE status = 'failed' OR (status IN ('pending', 'sending') AND created_at < ?) "
        "GROUP BY 1 ORDER BY 1 DESC",
        [now - limit],
    ):
        last = f" (last error: {error})" if error else ""
        if status:
            text = (
                f"{_digests(count)} refused by the SMTP server{last}: mend the cause, then "
                f"`safer digest --resend {run_id or 'RUN'}`"
            )
            found.append(Condition(f"digests_refused:{oldest}", "digests_refused", text))
        else:
            text = (
                f"{_digests(count)} waiting over {settings.operator.undelivered_hours:g} "
                f"hours to be sent{last}"
            )
            found.append(Condition(f"digests_waiting:{oldest}", "digests_waiting", text))
    return found


def _digests(count: int) -> str:
    return "1 digest was" if count == 1 else f"{count} digests were"
