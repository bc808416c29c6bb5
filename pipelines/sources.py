"""Every source a pipeline loads, with the suite that checks its batches and when it is due.

A source is not a source without both: a test fails if an indicator with a query reads a
source missing from here, so every pipeline, present and future, is defined with its checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from checks.models import Check
from checks.police_street import street_suite
from pipelines.freshness import monthly_due

__all__ = ["SOURCES", "Source"]


@dataclass(frozen=True)
class Source:
    id: str
    label: str
    """The source in an officer's words, for "Data missing" sentences."""
    suite: Callable[[dt.date, int, int, tuple[str, ...]], list[Check]]
    """The checks a batch must pass: (period, min rows, max rows, outcome labels) → checks."""
    due: Callable[[dt.date], dt.date]
    """The day a period's release is due."""


SOURCES = {
    "police_uk_street": Source(
        id="police_uk_street",
        label="data.police.uk street file",
        suite=street_suite,
        due=monthly_due,
    ),
}
