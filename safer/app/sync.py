"""The fetch-and-load step of a run: every configured source, each on its own.

A source that fails, or crashes, is recorded as failed and the run goes on with the others; it
is tried again on a later run, with backoff (``pipelines.health``). A stop request is honoured
between files and between sources. When data.police.uk's API is configured it is asked first, once,
whether anything is new and which months exist (``pipelines.police_uk_api``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from safer.app.batch import sync_source
from safer.app.sources import configured
from safer.kernel import stopping
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.errors import FetchError
from safer.pipelines.health import backing_off
from safer.pipelines.police_uk_api import SOURCE as API
from safer.pipelines.police_uk_api import Availability, ask_api, configured_api, record_api
from safer.pipelines.source import BatchOutcome, Source, SourceContext
from safer.store.db import Database

MONTHLY_SOURCES = ("police_uk_street", "police_uk_outcomes", "police_uk_stop_search")

__all__ = ["sync_all"]

logger = logging.getLogger(__name__)


def sync_all(
    db: Database,
    settings: Settings,
    run_id: str,
    as_of: dt.date,
    clock: Clock,
    outcome_labels: tuple[str, ...],
    only: Sequence[str] | None = None,
) -> list[BatchOutcome]:
    """Bring every configured source (or those in ``only``) up to date; one outcome per file,
    source by source."""
    outcomes: list[BatchOutcome] = []
    wants_api = only is None or any(s in MONTHLY_SOURCES for s in only)
    api = _ask(db, settings, outcomes) if wants_api else None
    ctx = SourceContext(
        settings,
        run_id,
        as_of,
        clock,
        outcome_labels,
        available=api.by_source() if api else None,
        nothing_new=api.unchanged if api else False,
    )
    for source in configured(settings):
        if only is not None and source.id not in only:
            continue
        if stopping.requested():
            logger.warning("stopping before %s: a stop was requested", source.id)
            break
        skipped = backing_off(db, source.id, clock())
        outcomes += [skipped] if skipped else _sync_one(db, source, ctx)
    monthly = [o for o in outcomes if o.source in MONTHLY_SOURCES]
    complete = all(o.outcome not in ("failed", "backing_off") for o in monthly)
    if api is not None and not api.unchanged and complete and not stopping.requested():
        record_api(db, api, clock)  # only now is "nothing new" true of this last-updated date
    return outcomes


def _ask(db: Database, settings: Settings, outcomes: list[BatchOutcome]) -> Availability | None:
    """The API's answer, when it is configured; a failure is recorded and every wanted month
    is then tried as if there were no API."""
    if configured_api(settings) is None:
        return None
    try:
        found = ask_api(db, settings)
    except FetchError as exc:
        logger.warning("%s: %s; trying every wanted month instead", API, exc)
        outcomes.append(BatchOutcome(API, "crime-last-updated", None, "unavailable", str(exc)))
        return None
    newest = found.newest.isoformat()[:7] if found.newest else "none"
    if found.unchanged:
        message = f"last updated {found.last_updated}, as at the last sync: nothing new"
    else:
        message = f"last updated {found.last_updated}; newest month {newest}"
    outcomes.append(BatchOutcome(API, "crime-last-updated", found.newest, "checked", message))
    return found


def _sync_one(db: Database, source: Source, ctx: SourceContext) -> list[BatchOutcome]:
    try:
        return sync_source(db, source, ctx)
    except Exception as exc:  # noqa: BLE001 - one source's crash must not stop the others
        logger.exception("%s: the source failed: %s", source.id, exc)
        message = f"the source failed: {type(exc).__name__}: {exc}"
        return [BatchOutcome(source.id, "*", None, "failed", message)]
