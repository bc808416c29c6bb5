"""The fetch-and-load step of a run: every configured source, each on its own.

A source that fails, or crashes, is recorded as failed and the run goes on with the others; it
is tried again on the next run. When data.police.uk's API is configured it is asked first, once,
whether anything is new and which months exist (``pipelines.police_uk_api``).
"""

from __future__ import annotations

import datetime as dt
import logging

from pipelines.batch import BatchOutcome, Clock, Source, SourceContext, sync_source
from pipelines.db import Database
from pipelines.sources import configured
from safer.config import Settings

__all__ = ["sync_all"]

logger = logging.getLogger(__name__)


def sync_all(
    db: Database,
    settings: Settings,
    run_id: str,
    as_of: dt.date,
    clock: Clock,
    outcome_labels: tuple[str, ...],
) -> list[BatchOutcome]:
    """Bring every configured source up to date; one outcome per file, source by source."""
    ctx = SourceContext(settings, run_id, as_of, clock, outcome_labels)
    outcomes: list[BatchOutcome] = []
    for source in configured(settings):
        outcomes += _sync_one(db, source, ctx)
    return outcomes


def _sync_one(db: Database, source: Source, ctx: SourceContext) -> list[BatchOutcome]:
    try:
        return sync_source(db, source, ctx)
    except Exception as exc:  # noqa: BLE001 - one source's crash must not stop the others
        logger.exception("%s: the source failed: %s", source.id, exc)
        message = f"the source failed: {type(exc).__name__}: {exc}"
        return [BatchOutcome(source.id, "*", None, "failed", message)]
