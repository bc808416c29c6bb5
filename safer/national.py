"""Every force's figures at once, from a database a national backfill filled.

Each indicator is measured once for every partnership and force (``indicators.measure`` serves
all the forces in ``areas``), then judged force by force: the configured force against its own
plans, every other force with no plan (so statuses say "not judged", while the comparisons and
the SPC reading, which need no plan, are there for every area). Withheld periods are each
force's own. Used by ``safer backfill --evaluate`` and the national benchmark.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indicators.definitions import Catalogue, Plan
from indicators.evaluate import Context, Evaluation, Measured, evaluate
from indicators.measure import measure, store_evaluations, withheld_quarters
from indicators.spc import SpcRules
from pipelines.areas import forces_areas
from pipelines.db import Database
from pipelines.sources import SOURCES
from safer.config import Settings

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
    force_of: dict[str, str] = dict(db.rows("SELECT area_code, pfa_code FROM areas"))
    by_pfa = {pfa: force for force, pfa in forces.items()}
    rules = SpcRules(**settings.indicators.spc.model_dump())
    found: list[Evaluation] = []
    chosen = [i for i in catalogue.indicators if i.sql is not None and i.source in sources]
    for indicator in chosen:
        measured = measure(db, indicator, settings.force.pfa_code, SOURCES[indicator.source])
        evaluations: list[Evaluation] = []
        held = _quarantined_forces(db, indicator.source, settings.force.id)
        for pfa in sorted(by_pfa):
            own = settings.force.pfa_code == pfa
            # Only a force with a quarantined file has anything withheld: ask for those alone.
            withheld = (
                withheld_quarters(db, indicator.source, indicator.evaluated_grain, by_pfa[pfa])
                if by_pfa[pfa] in held
                else {}
            )
            context = Context(
                plans=tuple(plans) if own else (),
                force_code=pfa,
                withheld=withheld,
                spc_rules=rules,
            )
            evaluations += evaluate(indicator, _slice(measured, force_of, pfa), context)
        store_evaluations(db, indicator.id, evaluations, run_id)
        found += evaluations
    logger.info(
        "national: %d indicators for %d areas of %d forces", len(chosen), len(areas), len(forces)
    )
    return NationalResult(tuple(found), len(areas), len(chosen))


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


def _slice(measured: Measured, force_of: Mapping[str, str], pfa: str) -> Measured:
    """The observations of one force and its partnerships."""
    return Measured(
        periods={k: v for k, v in measured.periods.items() if force_of.get(k[0]) == pfa},
        series={k: v for k, v in measured.series.items() if force_of.get(k[0]) == pfa},
        grain=measured.grain,
    )
