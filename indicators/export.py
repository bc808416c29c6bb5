"""``safer export``: the computed observations with their status, as CSV for analysts."""

from __future__ import annotations

import csv
from typing import TextIO

from safer.kernel.periods import period_label
from safer.store.db import Database

__all__ = ["COLUMNS", "csv_safe", "export_observations"]

COLUMNS = (
    "indicator",
    "area_code",
    "area_name",
    "period",
    "period_start",
    "months_loaded",
    "value",
    "numerator",
    "denominator",
    "status",
    "reason",
    "previous_quarter",
    "last_year",
    "rolling_12",
    "previous_rolling_12",
    "rest_of_force",
    "plan_id",
    "target_form",
    "spc_variation",
    "spc_assurance",
    "spc_text",
    "denominator_note",
    "pending",
    "pending_share",
    "comparison_pending_share",
)
"""``denominator_note`` says what a rate per head divides by ("mid-2021 population");
``pending`` counts an outcome cohort's crimes still awaiting an outcome, left out of both
numerator and denominator, ``pending_share`` is their share of the cohort and
``comparison_pending_share`` the same share in the period it is compared with."""


def export_observations(db: Database, out: TextIO) -> int:
    """Write every quarterly (and, for a yearly source, yearly) observation, force first;
    returns the number of rows. Cells are safe to open in Excel (``csv_safe``)."""
    rows = db.rows(
        """
        SELECT o.indicator_id, o.area_code, a.area_name, o.grain, o.period_start, o.months_loaded,
               o.value, o.numerator, o.denominator, e.status, e.reason, e.previous_quarter,
               e.last_year, e.rolling_12, e.previous_rolling_12, e.rest_of_force, e.plan_id,
               e.target_form, e.spc_variation, e.spc_assurance, e.spc_text, o.denominator_note,
               o.pending, e.pending_share, e.comparison_pending_share
        FROM observations o
        JOIN areas a USING (area_code)
        LEFT JOIN evaluations e USING (indicator_id, area_code, period_start)
        WHERE o.grain IN ('quarter', 'year')
        ORDER BY o.indicator_id, a.area_type DESC, a.area_name, o.period_start
        """
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for indicator, code, name, grain, start, months, *rest in rows:
        writer.writerow(
            [indicator, code, csv_safe(name), period_label(start, grain), start.isoformat(), months]
            + [_cell(item) for item in rest]
        )
    return len(rows)


def _cell(item: object) -> str:
    if item is None:
        return ""
    if isinstance(item, float):
        return f"{item:.10g}"  # a number, even a negative one, stays a number
    return csv_safe(str(item))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Text that a spreadsheet would run as a formula (``=HYPERLINK(...)`` in an area or
    reason someone else typed) is kept as text by a leading apostrophe (OWASP's advice)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text
