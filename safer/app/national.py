"""Every force's figures at once, from a database a national backfill filled.

Each indicator is measured once for every partnership and force (``indicators.measure`` serves
all the forces in ``areas``), then judged force by force: the configured force against its own
plans, every other force with no plan (so statuses say "not judged", while the comparisons and
the SPC reading, which need no plan, are there for every area). Withheld periods are each
force's own. Used by ``safer backfill --evaluate`` and the national benchmark.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from safer.app.sources import SOURCES
from safer.indicators.definitions import Catalogue, Indicator, Plan
from safer.indicators.evaluate import Context, Evaluation, Key, Measured, Observation, evaluate
from safer.indicators.measure import measure, store_evaluations, withheld_quarters
from safer.indicators.spc import SpcRules
from safer.kernel.config import ForceConfig, Settings
from safer.pipelines.areas import forces_areas
from safer.store.db import Database

__all__ = ["NationalResult", "evaluate_forces"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NationalResult:
    evaluations: tuple[Evaluation, ...]
    areas: int
    indicators: int


def evaluate_forces(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: Sequence[Plan],
    forces: Mapping[str, str],
    sources: Sequence[str],
    run_id: str,
) -> NationalResult:
    """Measure and evaluate the indicators of ``sources`` for every force in ``forces``
    (force id → PFA code), storing the evaluations."""
    areas = forces_areas(db, sorted(set(forces.values())))
    judging = _Judging(
        own=settings.force,
        plans=tuple(plans),
        by_pfa={pfa: force for force, pfa in forces.items()},
        force_of=dict(db.rows("SELECT area_code, pfa_code FROM areas")),
        rules=SpcRules(**settings.indicators.spc.model_dump()),
        pending_margin=settings.indicators.pending_margin_points / 100,
    )
    found: list[Evaluation] = []
    chosen = [i for i in catalogue.indicators if i.sql is not None and i.source in sources]
    # One indicator at a time. (Measuring the next on a second connection while this thread
    # judged the last was measured no faster on 2 cores: DuckDB already uses both.)
    for indicator in chosen:
        measured = measure(db, indicator, settings.force.pfa_code, SOURCES[indicator.source])
        evaluations = _judge(db, judging, indicator, measured)
        store_evaluations(db, indicator.id, evaluations, run_id)
        found += evaluations
    logger.info(
        "national: %d indicators for %d areas of %d forces", len(chosen), len(areas), len(forces)
    )
    return NationalResult(tuple(found), len(areas), len(chosen))


@dataclass(frozen=True)
class _Judging:
    own: ForceConfig
    plans: tuple[Plan, ...]
    by_pfa: Mapping[str, str]
    """PFA code → force id."""
    force_of: Mapping[str, str]
    """Area code → its force's PFA code."""
    rules: SpcRules
    pending_margin: float


def _judge(
    db: Database, judging: _Judging, indicator: Indicator, measured: Measured
) -> list[Evaluation]:
    """Every force's evaluations of one measured indicator: its own plans for the configured
    force, none for the others."""
    evaluations: list[Evaluation] = []
    held = _quarantined_forces(db, indicator.source, judging.own.id)
    slices = _slices(measured, judging.force_of)
    nothing = Measured(periods={}, series={}, grain=measured.grain)
    for pfa, force in sorted(judging.by_pfa.items()):
        own = judging.own.pfa_code == pfa
        # Only a force with a quarantined file has anything withheld: ask for those alone.
        withheld = (
            withheld_quarters(
                db, indicator.source, indicator.evaluated_grain, force, judging.own.id
            )
            if force in held
            else {}
        )
        context = Context(
            plans=judging.plans if own else (),
            force_code=pfa,
            withheld=withheld,
            spc_rules=judging.rules,
            pending_margin=judging.pending_margin,
            # A force without a plan gets no digest of its history: the latest reading, and
            # the one before to show a change, are what a comparison uses.
            spc_latest=None if own else 2,
        )
        evaluations += evaluate(indicator, slices.get(pfa, nothing), context)
    return evaluations


def _quarantined_forces(db: Database, source: str, own: str) -> set[str]:
    """Forces with a quarantined file of ``source`` (a row with no force is the configured
    force's, from before batches named their force)."""
    return {
        str(force)
        for (force,) in db.rows(
            "SELECT DISTINCT coalesce(force_id, ?) FROM load_ledger "
            "WHERE source = ? AND status = 'quarantined'",
            [own, source],
        )
    }


def _slices(measured: Measured, force_of: Mapping[str, str]) -> dict[str, Measured]:
    """The observations of each force and its partnerships, by PFA code, in one pass."""
    periods: dict[str, dict[Key, Observation]] = defaultdict(dict)
    series: dict[str, dict[Key, Observation]] = defaultdict(dict)
    for key, obs in measured.periods.items():
        periods[force_of.get(key[0], "")][key] = obs
    for key, obs in measured.series.items():
        series[force_of.get(key[0], "")][key] = obs
    return {
        pfa: Measured(periods=periods[pfa], series=series[pfa], grain=measured.grain)
        for pfa in periods.keys() | series.keys()
    }
