"""Every source a pipeline loads, each with the suite that checks its batches and when it is due.

A source is not a source without both: a test fails if an indicator with a query reads a
source missing from here, or a source has no checks, so every pipeline, present and future,
is defined with its checks (the recipe is in CONTRIBUTING.md).
"""

from __future__ import annotations

from indicators.definitions import Catalogue
from pipelines.batch import Source
from pipelines.call_handling import CALL_HANDLING
from pipelines.council_enforcement import COUNCIL_ENFORCEMENT
from pipelines.defra_flytipping import DEFRA_FLYTIPPING
from pipelines.police_uk import STREET
from pipelines.police_uk_outcomes import OUTCOMES
from pipelines.police_uk_stop_search import STOP_SEARCH
from safer.config import Settings

__all__ = ["SOURCES", "active_catalogue", "configured"]

SOURCES: dict[str, Source] = {
    source.id: source
    for source in (
        STREET,
        OUTCOMES,
        STOP_SEARCH,
        CALL_HANDLING,
        COUNCIL_ENFORCEMENT,
        DEFRA_FLYTIPPING,
    )
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
