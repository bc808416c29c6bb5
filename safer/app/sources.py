"""Every source the application loads, each registered here with the suite that checks it.

A source's fetching module (``pipelines/``) and its suite (``checks/``) never import each other;
this is the one place that puts them together. Adding a source adds one suite function and one
``Registered`` entry here (CONTRIBUTING.md has the recipe); a test fails if an indicator with a
query reads a source missing from here, or a source has no checks or due date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from safer.checks.call_handling import call_handling_suite
from safer.checks.council_enforcement import council_enforcement_suite
from safer.checks.defra_flytipping import actions_suite, incidents_suite
from safer.checks.models import Check
from safer.checks.police_outcomes import outcomes_suite
from safer.checks.police_stop_search import stop_search_suite
from safer.checks.police_street import FORCE_LADS, IN_USE, against_in_use, street_suite
from safer.indicators.definitions import Catalogue
from safer.kernel.config import PoliceUkStreetConfig, Settings
from safer.kernel.errors import CheckError
from safer.kernel.layouts import ACTIONS_SHEET, ASB, INCIDENTS_SHEET
from safer.pipelines import call_handling, council_enforcement, defra_flytipping
from safer.pipelines.areas import LAD_FROM_LSOA_NAME_SQL, LOOKUP_FILE
from safer.pipelines.police_uk import STREET
from safer.pipelines.police_uk_outcomes import OUTCOMES
from safer.pipelines.police_uk_stop_search import STOP_SEARCH
from safer.pipelines.source import Reference, Source, SourceContext, Wanted
from safer.pipelines.staging import Staged
from safer.store.db import Database

__all__ = [
    "REFERENCES",
    "SOURCES",
    "SUITES",
    "Registered",
    "Suite",
    "active_catalogue",
    "configured",
]

Suite = Callable[[SourceContext, Wanted, Staged], dict[str, list[Check]]]
"""The checks per staged table; error-level failures quarantine the batch."""
References = Callable[[Database, Settings, Wanted], dict[str, Reference]]
"""Small tables written beside the batch for checks that compare a file with what is in use."""


def _street(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    cfg = STREET.monthly(ctx.settings)
    assert wanted.period is not None and isinstance(cfg, PoliceUkStreetConfig)
    suite = street_suite(wanted.period, cfg.min_rows, cfg.max_rows, ctx.outcome_labels)
    # Braces doubled: the suite's queries are formatted by GX.
    lad_of = LAD_FROM_LSOA_NAME_SQL.replace("{col}", '"LSOA name"')
    return {staged.table: [*suite, *against_in_use(cfg.revision_tolerance, lad_of)]}


def _street_references(db: Database, settings: Settings, wanted: Wanted) -> dict[str, Reference]:
    """The month's version in use and the force's local authorities, for the checks that
    compare a file with them (``against_in_use``)."""
    in_use = db.rows(
        "SELECT count(*), count(*) FILTER (WHERE crime_type = ?) FROM police_street "
        "WHERE force_id = ? AND period = ? HAVING count(*) > 0",
        [ASB, settings.force.id, wanted.period],
    )
    lads = db.rows(
        "SELECT DISTINCT lower(lad_name) FROM lad_lookup WHERE pfa_code = ?",
        [settings.force.pfa_code],
    )
    return {
        IN_USE: Reference(("rows BIGINT", "asb_rows BIGINT"), tuple(map(tuple, in_use))),
        FORCE_LADS: Reference(("lad_name VARCHAR",), tuple(map(tuple, lads))),
    }


def _outcomes(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    cfg = OUTCOMES.monthly(ctx.settings)
    assert wanted.period is not None
    suite = outcomes_suite(wanted.period, cfg.min_rows, cfg.max_rows, ctx.outcome_labels)
    return {staged.table: suite}


def _stop_search(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    cfg = STOP_SEARCH.monthly(ctx.settings)
    assert wanted.period is not None
    return {staged.table: stop_search_suite(wanted.period, cfg.min_rows, cfg.max_rows)}


def _call_handling(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    where = wanted.slot
    return {staged.table: call_handling_suite(where, ctx.settings.force.pfa_code, ctx.as_of)}


def _council(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    pfa_code = ctx.settings.force.pfa_code
    csps = council_enforcement.force_csps(pfa_code)
    if not csps:
        raise CheckError(f"force.pfa_code: {pfa_code} has no partnerships in {LOOKUP_FILE}")
    where = council_enforcement.where(staged, wanted)
    return {staged.table: council_enforcement_suite(where, csps, ctx.as_of)}


def _flytipping(ctx: SourceContext, wanted: Wanted, staged: Staged) -> dict[str, list[Check]]:
    las = defra_flytipping.force_las(ctx.settings.force.pfa_code)
    headers = defra_flytipping.header_rows(staged.path)
    name, as_of = wanted.slot, ctx.as_of
    if defra_flytipping.is_csv(name):
        return {"actions": actions_suite(name, headers["actions"], las, as_of)}
    return {
        "actions": actions_suite(
            f"{name}, sheet {ACTIONS_SHEET!r}", headers["actions"], las, as_of
        ),
        "incidents": incidents_suite(
            f"{name}, sheet {INCIDENTS_SHEET!r}", headers["incidents"], las, as_of
        ),
    }


@dataclass(frozen=True)
class Registered:
    """A source with the checks its batches must pass."""

    source: Source
    suite: Suite
    references: References | None = None


REGISTERED = (
    Registered(STREET, _street, _street_references),
    Registered(OUTCOMES, _outcomes),
    Registered(STOP_SEARCH, _stop_search),
    Registered(call_handling.CALL_HANDLING, _call_handling),
    Registered(council_enforcement.COUNCIL_ENFORCEMENT, _council),
    Registered(defra_flytipping.DEFRA_FLYTIPPING, _flytipping),
)
"""In the order a run syncs them."""

SOURCES: Mapping[str, Source] = {r.source.id: r.source for r in REGISTERED}
SUITES: Mapping[str, Suite] = {r.source.id: r.suite for r in REGISTERED}
REFERENCES: Mapping[str, References] = {
    r.source.id: r.references for r in REGISTERED if r.references is not None
}


def configured(settings: Settings) -> list[Source]:
    """The sources the config turns on, in the order a run syncs them."""
    return [source for source in SOURCES.values() if source.config(settings) is not None]


def active_catalogue(catalogue: Catalogue, settings: Settings) -> Catalogue:
    """The catalogue as this config can measure it: an indicator whose source is not configured
    has no query, and its digest row says which ``[sources.…]`` table would give it one."""
    on = {source.id for source in configured(settings)}
    indicators = tuple(
        i
        if i.sql is None or i.source in on
        else i.model_copy(
            update={
                "sql": None,
                "source_label": f"{i.source_label} (add [sources.{i.source}] to safer.toml)",
            }
        )
        for i in catalogue.indicators
    )
    return catalogue.model_copy(update={"indicators": indicators})
