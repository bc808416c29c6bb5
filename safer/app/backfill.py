"""``safer backfill --from YYYY-MM --to YYYY-MM [--forces all] [--evaluate]``: the months of every
configured data.police.uk street and outcomes source, for one force or many, month by month
(``safer.app.bulk_load``), with a progress bar on a terminal and one line per month otherwise.

The caller holds the run lock. A month that fails loses only that month; a stop request
(SIGTERM) is honoured between months. With ``--evaluate`` every indicator of those sources is
then measured and evaluated for every partnership and force (``safer.national``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from safer.app.bulk_load import KINDS, backfill_month
from safer.app.national import evaluate_forces
from safer.app.progress import Progress
from safer.app.sources import active_catalogue
from safer.indicators.definitions import load_catalogue, load_plans
from safer.indicators.measure import (
    load_outcome_groups,
    load_population,
    outcome_labels,
    read_population,
)
from safer.kernel import stopping
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.errors import ConfigError, LoadError
from safer.kernel.periods import month_label, months_between, parse_month
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.load_ledger import BACKFILL_RUN, adopt_unowned_batches
from safer.store.db import Database, DatabaseCorrupt, DatabaseError, DatabaseLocked, open_database

__all__ = ["backfill"]

logger = logging.getLogger(__name__)


def backfill(
    settings: Settings,
    first: str,
    last: str,
    forces: str | None,
    jobs: int,
    evaluate: bool,
    clock: Clock,
) -> int:
    """Load the months; returns the exit code (0, 1 with a failed month, 3 with quarantined
    files, 6 when stopped)."""
    months = _months(first, last)
    sources = [k for k in KINDS if getattr(settings.sources, k) is not None]
    if not sources:
        raise ConfigError("backfill: neither [sources.police_uk_street] nor _outcomes is on")
    run_id = f"{clock():%Y%m%dT%H%M%S}{BACKFILL_RUN}{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    with open_database(settings.database) as db:
        adopt_unowned_batches(db, settings.force.id)
        load_lookup(db)
        every = load_forces(db)
        chosen = _forces(settings, every, forces)
        load_outcome_groups(db)
        load_population(db, read_population(settings.indicators.population_file))
        force_areas(db, settings.force.pfa_code)
        progress = Progress(len(months) * len(sources), "backfill")
        rows = quarantined = failed = 0
        for month in months:
            if stopping.requested():
                logger.warning("backfill stopped on request before %s", month)
                return 6
            for source in sources:
                try:
                    result = backfill_month(
                        db,
                        settings,
                        KINDS[source],
                        month,
                        chosen,
                        outcome_labels(),
                        run_id,
                        clock,
                        jobs,
                    )
                except (DatabaseLocked, DatabaseCorrupt):
                    raise  # the database itself: no later month would fare better
                except (LoadError, DatabaseError) as exc:
                    # The month's transaction rolled back: only it is lost, and the next
                    # backfill tries it again.
                    logger.error("%s %s: failed: %s", source, month_label(month), exc)
                    failed += 1
                    progress.step(f"{source} {month_label(month)}: failed")
                    continue
                for failure in result.failed:  # each named in full; the month line shortens
                    logger.error("%s %s: failed: %s", source, month_label(month), failure)
                rows += result.rows
                quarantined += len(result.quarantined)
                failed += len(result.failed)
                progress.step(result.line)
        progress.done(
            f"backfill {run_id}: {len(months)} months × {len(chosen)} forces, {rows:,} rows "
            f"loaded, {quarantined} files quarantined, {failed} failed, in "
            f"{time.perf_counter() - started:.1f}s"
        )
        if evaluate:
            _evaluate(db, settings, chosen, sources, run_id)
    return 1 if failed else 3 if quarantined else 0


def _months(first: str, last: str) -> list[dt.date]:
    try:
        start, end = parse_month(first), parse_month(last)
    except ValueError as exc:
        raise ConfigError(f"backfill: {exc}") from exc
    if end < start:
        raise ConfigError(f"backfill: --to {last} is before --from {first}")
    return months_between(start, end)


def _forces(settings: Settings, every: dict[str, str], wanted: str | None) -> dict[str, str]:
    if wanted is None:
        return {settings.force.id: settings.force.pfa_code}
    if wanted == "all":
        return dict(every)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in every]
    if unknown:
        raise ConfigError(
            f"backfill: --forces: {', '.join(unknown)} not data.police.uk force slugs "
            f"(e.g. {', '.join(sorted(every)[:4])}, …)"
        )
    return {n: every[n] for n in names}


def _evaluate(
    db: Database, settings: Settings, forces: dict[str, str], sources: list[str], run_id: str
) -> None:
    catalogue = active_catalogue(load_catalogue(settings.indicators.catalogue_dir), settings)
    plans = load_plans(settings.indicators.plans_dir, catalogue)
    started = time.perf_counter()
    found = evaluate_forces(db, settings, catalogue, plans, forces, sources, run_id)
    logger.info(
        "evaluated %d indicators × %d areas: %d evaluations in %.1fs",
        found.indicators,
        found.areas,
        len(found.evaluations),
        time.perf_counter() - started,
    )
    # Leave the configured force's areas, as a normal run expects them.
    force_areas(db, settings.force.pfa_code)
